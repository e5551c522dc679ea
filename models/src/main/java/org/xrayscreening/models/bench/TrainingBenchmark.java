package org.xrayscreening.models.bench;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.inference.Predictor;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.Trainer;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import ai.djl.translate.NoopTranslator;
import java.io.PrintStream;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
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
 * Training and inference throughput of the four classifiers, with the strided 1x1 convolutions either as
 * {@link org.xrayscreening.models.network.StrideFreePointwise} (what the project ships) or as plain strided
 * convolutions (before the Zen 5 fix), measured in one run, alternating, so that the ratio is fair on a shared
 * machine. Training = forward + softmax cross-entropy + backward + Adam step on random data (speed does not
 * depend on the data); inference = {@code Predictor.predict} with grad mode off.
 *
 * <p>{@code --layout strided} runs the strided backward kernel that kills the JVM on AMD Zen 5 (see
 * StrideFreePointwise): only ask for it on a CPU where it does not, to measure what the fix costs.
 *
 * <pre>
 * java -cp models/target/classes:$(cat models/target/classpath.txt) org.xrayscreening.models.bench.TrainingBenchmark \
 *   --arch resnet50,xception --layout stride-free,strided --rounds 2
 * </pre>
 */
@Command(name = "training-benchmark", mixinStandardHelpOptions = true,
        description = "Training and inference img/s of the classifiers, stride-free vs strided 1x1 layout.")
public final class TrainingBenchmark implements Callable<Integer> {

    @Option(names = {"-a", "--arch"}, split = ",", description = "Architectures. Default: resnet50,xception (the two with strided 1x1 convs).")
    List<String> architectures = new ArrayList<>(List.of("resnet50", "xception"));

    @Option(names = "--layout", split = ",", description = "stride-free and/or strided. Default: ${DEFAULT-VALUE}.",
            defaultValue = "stride-free")
    List<String> layouts;

    @Option(names = {"-s", "--size"}, description = "Square input size. Default: each network's native size.")
    Integer size;

    @Option(names = "--train-batch", description = "Training batch size. Default: ${DEFAULT-VALUE}.")
    int trainBatch = 8;

    @Option(names = "--infer-batch", description = "Inference batch size (0: skip inference). Default: ${DEFAULT-VALUE}.")
    int inferBatch = 8;

    @Option(names = "--steps", description = "Timed training steps per measurement. Default: ${DEFAULT-VALUE}.")
    int steps = 6;

    @Option(names = "--rounds", description = "Alternating rounds per layout (each layout measured once per round). Default: ${DEFAULT-VALUE}.")
    int rounds = 2;

    @Option(names = {"-t", "--threads"}, description = "PyTorch intra-op threads. Default: ${DEFAULT-VALUE}.")
    int threads = Runtime.getRuntime().availableProcessors();

    /** img/s by wall clock, and CPU seconds (whole process, all threads) per image: less sensitive to other load. */
    record Result(String arch, String layout, int round, int size, double trainImgPerSec, double trainCpuPerImg,
                  double inferImgPerSec, double inferCpuPerImg) {}

    @Override
    public Integer call() throws Exception {
        Engine engine = BenchEngine.start(threads);
        PrintStream log = System.err;
        log.println(NativeRuntime.describe());
        List<Result> results = new ArrayList<>();
        for (String id : architectures) {
            Architecture arch = Architecture.fromId(id);
            int s = size != null ? size : arch.nativeInputSize();
            for (int round = 1; round <= rounds; round++) {
                for (String layout : layouts) {
                    Result r = measure(arch, layout, round, s, log);
                    results.add(r);
                    log.printf(Locale.ROOT, "%-12s %-11s round %d %3dpx: training %.2f img/s, %.3f CPU s/img (batch %d);"
                                    + " inference %.2f img/s, %.3f CPU s/img (batch %d)%n", arch.id(), layout, round, s,
                            r.trainImgPerSec(), r.trainCpuPerImg(), trainBatch, r.inferImgPerSec(), r.inferCpuPerImg(),
                            inferBatch);
                }
            }
        }
        System.out.printf(Locale.ROOT, "Measured %s; %s %s; %d intra-op thread(s); %s%n%n",
                ZonedDateTime.now().format(DateTimeFormatter.ISO_OFFSET_DATE_TIME), engine.getEngineName(),
                engine.getVersion(), threads, NativeRuntime.describe());
        System.out.println("| model | layout | round | input | train img/s (batch " + trainBatch + ") | train CPU s/img"
                + " | inference img/s (batch " + inferBatch + ") | inference CPU s/img |");
        System.out.println("| --- | --- | ---: | --- | ---: | ---: | ---: | ---: |");
        for (Result r : results) {
            System.out.printf(Locale.ROOT, "| %s | %s | %d | %dx%d | %.2f | %.3f | %.2f | %.3f |%n", r.arch(), r.layout(),
                    r.round(), r.size(), r.size(), r.trainImgPerSec(), r.trainCpuPerImg(), r.inferImgPerSec(),
                    r.inferCpuPerImg());
        }
        return 0;
    }

    private Result measure(Architecture arch, String layout, int round, int s, PrintStream log) throws Exception {
        Block block = switch (layout) {
            case "stride-free" -> Networks.classifier(arch, 2);
            case "strided" -> Networks.classifierWithStridedPointwise(arch, 2);
            default -> throw new CommandLine.ParameterException(new CommandLine(this),
                    "--layout must be stride-free or strided, was " + layout);
        };
        try (Model model = Model.newInstance(arch.id(), Device.cpu(), "PyTorch")) {
            model.setBlock(block);
            double[] train = trainSpeed(model, s);
            double[] infer = inferBatch > 0 ? inferSpeed(model, s) : new double[] {Double.NaN, Double.NaN};
            return new Result(arch.id(), layout, round, s, train[0], train[1], infer[0], infer[1]);
        }
    }

    /** {img/s, CPU s per image}. */
    private double[] trainSpeed(Model model, int s) {
        JniUtils.setGradMode(true);
        DefaultTrainingConfig config = new DefaultTrainingConfig(Loss.softmaxCrossEntropyLoss())
                .optOptimizer(Optimizer.adam().optLearningRateTracker(Tracker.fixed(1e-4f)).build());
        try (Trainer trainer = model.newTrainer(config)) {
            Shape shape = new Shape(trainBatch, 3, s, s);
            trainer.initialize(shape);
            step(model, trainer, shape); // untimed: first-call kernel selection and allocation
            long start = System.nanoTime();
            double cpu0 = processCpuSeconds();
            for (int i = 0; i < steps; i++) {
                step(model, trainer, shape);
            }
            int images = steps * trainBatch;
            return new double[] {images / ((System.nanoTime() - start) / 1e9), (processCpuSeconds() - cpu0) / images};
        }
    }

    private static void step(Model model, Trainer trainer, Shape shape) {
        try (NDManager m = model.getNDManager().newSubManager()) {
            NDArray x = m.randomUniform(-1f, 1f, shape);
            NDArray y = m.randomInteger(0, 2, new Shape(shape.get(0)), DataType.INT64).toType(DataType.FLOAT32, false);
            try (GradientCollector gc = trainer.newGradientCollector()) {
                NDArray logits = trainer.forward(new NDList(x)).head();
                NDArray loss = trainer.getLoss().evaluate(new NDList(y), new NDList(logits));
                gc.backward(loss);
                if (!Float.isFinite(loss.getFloat())) {
                    throw new IllegalStateException("loss is " + loss.getFloat());
                }
            }
            trainer.step();
        }
    }

    private double[] inferSpeed(Model model, int s) throws Exception {
        JniUtils.setGradMode(false);
        Shape shape = new Shape(inferBatch, 3, s, s);
        try (Predictor<NDList, NDList> predictor = model.newPredictor(new NoopTranslator())) {
            predictOnce(model, predictor, shape);
            int n = Math.max(3, steps);
            long start = System.nanoTime();
            double cpu0 = processCpuSeconds();
            for (int i = 0; i < n; i++) {
                predictOnce(model, predictor, shape);
            }
            int images = n * inferBatch;
            return new double[] {images / ((System.nanoTime() - start) / 1e9), (processCpuSeconds() - cpu0) / images};
        }
    }

    private static void predictOnce(Model model, Predictor<NDList, NDList> predictor, Shape shape) throws Exception {
        try (NDManager m = model.getNDManager().newSubManager()) {
            float[] logits = predictor.predict(new NDList(m.randomUniform(-1f, 1f, shape))).singletonOrThrow().toFloatArray();
            if (logits.length != shape.get(0) * 2 || !Float.isFinite(logits[0])) {
                throw new IllegalStateException("unexpected logits " + Arrays.toString(logits));
            }
        }
    }

    /** user + system CPU time of this process, all threads (Linux /proc/self/stat, clock ticks of 10 ms). */
    static double processCpuSeconds() {
        try {
            String stat = java.nio.file.Files.readString(java.nio.file.Path.of("/proc/self/stat"));
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            return (Long.parseLong(f[11]) + Long.parseLong(f[12])) / 100.0;
        } catch (java.io.IOException | RuntimeException e) {
            return Double.NaN;
        }
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new TrainingBenchmark()).execute(args));
    }
}
