package org.xrayscreening.models.bench;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.inference.Predictor;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.translate.NoopTranslator;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.xrayscreening.models.Architecture;
import org.xrayscreening.models.NativeRuntime;
import org.xrayscreening.models.network.Networks;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Is native memory bounded over many predictions? Runs {@code --predictions} inferences of one classifier
 * (inputs in a per-call sub-manager, as the inference API does) and samples the process's resident set size
 * ({@code VmRSS}) every {@code --every} predictions. After a warm-up share ({@code --settle}) the RSS must stay
 * within {@code --tolerance} of its value at the end of the warm-up; exit code 1 if it does not.
 *
 * <pre>
 * java -cp models/target/classes:$(cat models/target/classpath.txt) \
 *   org.xrayscreening.models.bench.MemoryStabilityBenchmark --arch mobilenet --predictions 10000
 * </pre>
 */
@Command(name = "memory-stability", mixinStandardHelpOptions = true,
        description = "RSS over many predictions: flat within a tolerance after warm-up?")
public final class MemoryStabilityBenchmark implements Callable<Integer> {

    @Option(names = {"-a", "--arch"}, description = "Architecture. Default: ${DEFAULT-VALUE}.", defaultValue = "mobilenet")
    String arch;

    @Option(names = "--predictions", description = "Predictions in total. Default: ${DEFAULT-VALUE}.", defaultValue = "10000")
    int predictions;

    @Option(names = "--batch", description = "Images per prediction. Default: ${DEFAULT-VALUE}.", defaultValue = "1")
    int batch;

    @Option(names = "--every", description = "Sample RSS every n predictions. Default: ${DEFAULT-VALUE}.", defaultValue = "500")
    int every;

    @Option(names = "--settle", description = "Share of predictions treated as warm-up. Default: ${DEFAULT-VALUE}.", defaultValue = "0.1")
    double settle;

    @Option(names = "--tolerance", description = "Allowed relative RSS growth after warm-up. Default: ${DEFAULT-VALUE}.", defaultValue = "0.05")
    double tolerance;

    @Option(names = {"-t", "--threads"}, description = "PyTorch intra-op threads. Default: ${DEFAULT-VALUE}.")
    int threads = Runtime.getRuntime().availableProcessors();

    @Override
    public Integer call() throws Exception {
        BenchEngine.start(threads);
        JniUtils.setGradMode(false);
        System.err.println(NativeRuntime.describe());
        Architecture architecture = Architecture.fromId(arch);
        int s = architecture.nativeInputSize();
        Shape shape = new Shape(batch, 3, s, s);
        List<long[]> samples = new ArrayList<>(); // {predictions done, rss kB}
        long start = System.nanoTime();
        try (Model model = Model.newInstance(architecture.id(), Device.cpu(), "PyTorch")) {
            Block block = Networks.classifier(architecture, 2);
            block.initialize(model.getNDManager(), DataType.FLOAT32, shape);
            model.setBlock(block);
            try (Predictor<NDList, NDList> predictor = model.newPredictor(new NoopTranslator())) {
                samples.add(new long[] {0, rssKb()});
                for (int i = 1; i <= predictions; i++) {
                    try (NDManager call = model.getNDManager().newSubManager()) {
                        float[] logits = predictor.predict(new NDList(call.randomUniform(-1f, 1f, shape)))
                                .singletonOrThrow().toFloatArray();
                        if (!Float.isFinite(logits[0])) {
                            throw new IllegalStateException("non-finite logit");
                        }
                    }
                    if (i % every == 0 || i == predictions) {
                        long rss = rssKb();
                        samples.add(new long[] {i, rss});
                        double secs = (System.nanoTime() - start) / 1e9;
                        System.err.printf(Locale.ROOT, "%6d/%d predictions, RSS %.0f MB, %.1f img/s%n", i, predictions,
                                rss / 1024.0, i * batch / secs);
                    }
                }
            }
        }
        int settled = (int) Math.round(predictions * settle);
        long[] reference = samples.stream().filter(x -> x[0] >= settled).findFirst().orElseThrow();
        long max = samples.stream().filter(x -> x[0] >= reference[0]).mapToLong(x -> x[1]).max().orElseThrow();
        long min = samples.stream().filter(x -> x[0] >= reference[0]).mapToLong(x -> x[1]).min().orElseThrow();
        double growth = (max - reference[1]) / (double) reference[1];
        boolean flat = growth <= tolerance;
        System.out.printf(Locale.ROOT, "%s %dx%d batch %d, %d predictions; %s%n", architecture.id(), s, s, batch,
                predictions, NativeRuntime.describe());
        System.out.printf(Locale.ROOT, "RSS after %d predictions %.0f MB; afterwards min %.0f MB, max %.0f MB:"
                        + " growth %.1f%% (tolerance %.0f%%): %s%n", reference[0], reference[1] / 1024.0, min / 1024.0,
                max / 1024.0, growth * 100, tolerance * 100, flat ? "FLAT" : "GROWING");
        return flat ? 0 : 1;
    }

    private static long rssKb() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        throw new IOException("no VmRSS in /proc/self/status");
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new MemoryStabilityBenchmark()).execute(args));
    }
}
