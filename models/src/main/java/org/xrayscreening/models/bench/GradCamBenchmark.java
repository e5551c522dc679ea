package org.xrayscreening.models.bench;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.ParameterStore;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.xrayscreening.models.Architecture;
import org.xrayscreening.models.explain.GradCam;
import org.xrayscreening.models.explain.Heatmap;
import org.xrayscreening.models.network.Networks;
import org.xrayscreening.models.preprocess.Preprocessor;
import org.xrayscreening.models.synthetic.SyntheticChestXray;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * What a heatmap costs per model: milliseconds per image for one plain forward pass and for {@link GradCam} (its
 * forward pass, the head's backward pass, the weighted sum and the upsampling to the image), both including
 * preprocessing from a {@code --image-size} synthetic X-ray, at each network's native input size with random
 * weights (the cost does not depend on the weights). The sum over the four models is the cost of one flagged
 * study in the stream job, on top of its scoring. Progress to stderr, a Markdown table to stdout.
 *
 * <pre>
 * source scripts/native-env.sh &amp;&amp; mvn -q -pl models compile exec:java -Dai.djl.offline=true \
 *   -Dexec.mainClass=org.xrayscreening.models.bench.GradCamBenchmark -Dexec.args="--threads 2"
 * </pre>
 */
@Command(name = "gradcam-benchmark", mixinStandardHelpOptions = true,
        description = "Milliseconds per image: forward pass vs Grad-CAM heatmap, per network.")
public final class GradCamBenchmark implements Callable<Integer> {

    @Option(names = {"-a", "--arch"}, split = ",", description = "Architectures (ids), comma separated. Default: all four.")
    List<String> architectures = new ArrayList<>();

    @Option(names = {"-t", "--threads"}, description = "PyTorch intra-op threads. Default: ${DEFAULT-VALUE}.")
    int threads = Runtime.getRuntime().availableProcessors();

    @Option(names = "--images", description = "Timed images per model and method. Default: ${DEFAULT-VALUE}.")
    int images = 10;

    @Option(names = "--warmup", description = "Untimed images first. Default: ${DEFAULT-VALUE}.")
    int warmup = 2;

    @Option(names = "--image-size", description = "Side of the synthetic X-rays (the job's canonical images are at most 512). Default: ${DEFAULT-VALUE}.")
    int imageSize = 512;

    record Result(Architecture architecture, int size, double forwardMillis, double gradCamMillis) {}

    @Override
    public Integer call() throws Exception {
        Engine engine = BenchEngine.start(threads);
        List<Architecture> archs = architectures.isEmpty()
                ? Arrays.asList(Architecture.values())
                : architectures.stream().map(Architecture::fromId).toList();
        String loadBefore = loadAverage();
        List<BufferedImage> xrays = new ArrayList<>();
        for (int i = 0; i < warmup + images; i++) {
            xrays.add(SyntheticChestXray.of(i, imageSize, i % 2 == 0).gray16());
        }
        List<Result> results = new ArrayList<>();
        for (Architecture arch : archs) {
            int size = arch.nativeInputSize();
            Preprocessor preprocessor = Preprocessor.forArchitecture(arch, size);
            try (Model model = Model.newInstance(arch.id(), Device.cpu(), "PyTorch")) {
                Block block = Networks.classifier(arch, 2);
                block.initialize(model.getNDManager(), DataType.FLOAT32, new Shape(1, 3, size, size));
                model.setBlock(block);
                long forward = 0;
                long gradCam = 0;
                for (int i = 0; i < xrays.size(); i++) {
                    BufferedImage xray = xrays.get(i);
                    long t0 = System.nanoTime();
                    forward(block, preprocessor.toChw(xray), size, model.getNDManager());
                    long t1 = System.nanoTime();
                    Heatmap map = GradCam.heatmap(block, preprocessor.toChw(xray), size, 0, xray.getWidth(),
                            xray.getHeight(), model.getNDManager());
                    long t2 = System.nanoTime();
                    if (map.width() != xray.getWidth()) {
                        throw new IllegalStateException("heatmap of the wrong size: " + map);
                    }
                    if (i >= warmup) {
                        forward += t1 - t0;
                        gradCam += t2 - t1;
                    }
                    System.err.printf(Locale.ROOT, "\r%-12s image %d/%d", arch.id(), i + 1, xrays.size());
                }
                System.err.println();
                results.add(new Result(arch, size, forward / 1e6 / images, gradCam / 1e6 / images));
            }
        }
        System.out.printf(Locale.ROOT, "Measured %s; %s %s; %d intra-op thread(s), %d core(s); %s; OMP_WAIT_POLICY %s;"
                        + " load average before %s, after %s; %d images of %dx%d per model%n%n",
                ZonedDateTime.now().format(DateTimeFormatter.ISO_OFFSET_DATE_TIME), engine.getEngineName(),
                engine.getVersion(), threads, Runtime.getRuntime().availableProcessors(), cpuModel(),
                System.getenv().getOrDefault("OMP_WAIT_POLICY", "(unset)"), loadBefore, loadAverage(), images,
                imageSize, imageSize);
        System.out.println("| model | input | forward ms/image | Grad-CAM ms/image | Grad-CAM / forward |");
        System.out.println("| --- | --- | ---: | ---: | ---: |");
        double totalForward = 0;
        double totalGradCam = 0;
        for (Result r : results) {
            System.out.printf(Locale.ROOT, "| %s | %dx%d | %.0f | %.0f | %.2f |%n", r.architecture().id(), r.size(),
                    r.size(), r.forwardMillis(), r.gradCamMillis(), r.gradCamMillis() / r.forwardMillis());
            totalForward += r.forwardMillis();
            totalGradCam += r.gradCamMillis();
        }
        System.out.printf(Locale.ROOT, "| **all %d (one flagged study)** | | %.0f | %.0f | %.2f |%n", results.size(),
                totalForward, totalGradCam, totalGradCam / totalForward);
        return 0;
    }

    private static void forward(Block block, float[] chw, int size, NDManager manager) {
        boolean gradWasOn = JniUtils.isGradMode();
        JniUtils.setGradMode(false);
        try (NDManager scope = manager.newSubManager()) {
            float[] logits = block.forward(new ParameterStore(scope, false),
                    new NDList(scope.create(chw, new Shape(1, 3, size, size))), false).singletonOrThrow().toFloatArray();
            if (!Float.isFinite(logits[0])) {
                throw new IllegalStateException("non-finite logits");
            }
        } finally {
            JniUtils.setGradMode(gradWasOn);
        }
    }

    private static String loadAverage() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
            return f[0] + " " + f[1] + " " + f[2];
        } catch (IOException | RuntimeException e) {
            return "n/a";
        }
    }

    private static String cpuModel() {
        try {
            return Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("model name"))
                    .findFirst().map(l -> l.substring(l.indexOf(':') + 1).trim()).orElse("CPU n/a");
        } catch (IOException | RuntimeException e) {
            return "CPU n/a";
        }
    }

    public static void main(String[] args) {
        int code = new CommandLine(new GradCamBenchmark()).execute(args);
        if (code != 0) {
            System.exit(code);
        }
    }
}
