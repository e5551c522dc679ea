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
import ai.djl.translate.NoopTranslator;
import ai.djl.translate.TranslateException;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.xrayscreening.models.Architecture;
import org.xrayscreening.models.inference.Bfloat16;
import org.xrayscreening.models.inference.Precision;
import org.xrayscreening.models.network.BatchNormFolding;
import org.xrayscreening.models.network.Networks;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Inference throughput of the four classifiers (DJL Java blocks, PyTorch engine, CPU, random weights - the speed
 * does not depend on the weights), at batch 1 and 8 at each network's native size, optionally at another size.
 *
 * <p>Per configuration: build {@link Networks#classifier}(arch, 2), initialize, {@code --warmup} untimed
 * predictions, then predictions until both {@code --min-iterations} and {@code --min-seconds} are reached. Only
 * {@code Predictor.predict} plus reading the logits back is timed; each input is made in a per-call
 * sub-manager that is closed after the call (see STACK.md on NoopTranslator memory). Grad mode is switched off on
 * the benchmark thread. Progress goes to stderr, a Markdown table to stdout.
 *
 * <pre>
 * OMP_WAIT_POLICY=PASSIVE mvn -q -pl models compile exec:java -Dai.djl.offline=true \
 *   -Dexec.mainClass=org.xrayscreening.models.bench.InferenceBenchmark \
 *   -Dexec.args="--threads 2 --size 128"
 * </pre>
 *
 * <p>{@code --fold off,on --eager-reference} compares, per network and batch, the DJL network with batch norms as
 * layers, with batch norms folded into the convolutions ({@code network.BatchNormFolding}, what
 * {@code CovidClassifier} serves in fp32) and eager PyTorch in eval mode (which does not fold), in one run.
 *
 * <p>{@code OMP_WAIT_POLICY=PASSIVE} matters on a shared CPU: with libtorch's default OpenMP spin-waiting, two
 * intra-op threads on two cores that other processes also use made MobileNet batch 1 run 20-40x slower
 * (0.6-1.2 img/s instead of 20-25) in runs made here. The header and the table caption print the policy in force
 * and the load average before and after.
 */
@Command(name = "inference-benchmark", mixinStandardHelpOptions = true,
        description = "Throughput (img/s) of the DJL classifiers at batch 1 and 8.")
public final class InferenceBenchmark implements Callable<Integer> {

    @Option(names = {"-a", "--arch"}, split = ",",
            description = "Architectures (ids or enum names), comma separated. Default: all four.")
    List<String> architectures = new ArrayList<>();

    @Option(names = {"-t", "--threads"}, description = "PyTorch intra-op threads. Default: ${DEFAULT-VALUE}.")
    int threads = Runtime.getRuntime().availableProcessors();

    @Option(names = {"-b", "--batch"}, split = ",", description = "Batch sizes. Default: 1,8.")
    List<Integer> batches = new ArrayList<>(List.of(1, 8));

    @Option(names = {"-s", "--size"},
            description = "Also measure at this square input size (in addition to the native size).")
    Integer extraSize;

    @Option(names = "--warmup", description = "Untimed predictions per configuration. Default: ${DEFAULT-VALUE}.")
    int warmup = 3;

    @Option(names = "--min-iterations", description = "Timed predictions at least. Default: ${DEFAULT-VALUE}.")
    int minIterations = 5;

    @Option(names = "--min-seconds", description = "Timed seconds at least. Default: ${DEFAULT-VALUE}.")
    double minSeconds = 8;

    /** One measured configuration. */
    @Option(names = "--precision", split = ",",
            description = "fp32, bf16 (bfloat16 through inference.Bfloat16), or both: fp32,bf16. Default: fp32.")
    List<String> precisions = new ArrayList<>(List.of("fp32"));

    @Option(names = "--fold", split = ",", paramLabel = "on|off",
            description = "Batch norms folded into their convolutions (on, as CovidClassifier serves fp32), kept as"
                    + " layers (off), or both in one run: off,on. Default: ${DEFAULT-VALUE}.")
    List<String> folds = new ArrayList<>(List.of("on"));

    @Option(names = "--rounds", description = "Measure every configuration this many times, variants alternating"
            + " (img/s in the table: all rounds' images over all rounds' time). Default: ${DEFAULT-VALUE}.")
    int rounds = 1;

    @Option(names = "--eager-reference", arity = "0..1", fallbackValue = "/usr/bin/python3", paramLabel = "PYTHON",
            description = "After each network, measure the same configurations in eager PyTorch with"
                    + " scripts/eager-reference.py (needs python3-torch, python3-torchvision; default interpreter"
                    + " /usr/bin/python3) and print the ratio.")
    String eagerPython;

    @Option(names = "--eager-script", defaultValue = "scripts/eager-reference.py",
            description = "Path of the eager reference script. Default: ${DEFAULT-VALUE}.")
    Path eagerScript;

    /** {@code variant}: "fp32", "bf16", "fp32 folded", "bf16 folded" or "eager". */
    record Result(Architecture architecture, String variant, int size, int batch, int iterations, double seconds,
                  double medianMillis, double cpuSeconds) {
        /** Process CPU time per image (all threads), in ms: what the work costs, whatever else runs on the CPU. */
        double cpuMillisPerImage() {
            return 1000 * cpuSeconds / (batch * (double) iterations);
        }

        double imagesPerSecond() {
            return batch * iterations / seconds;
        }
    }

    @Override
    public Integer call() throws Exception {
        Engine engine = BenchEngine.start(threads);
        JniUtils.setGradMode(false);

        List<Architecture> archs = architectures.isEmpty()
                ? Arrays.asList(Architecture.values())
                : architectures.stream().map(Architecture::fromId).toList();
        PrintStream log = System.err;
        String ompWait = System.getenv().getOrDefault("OMP_WAIT_POLICY", "(unset: active spinning)");
        String loadBefore = loadAverage();
        log.printf(Locale.ROOT, "engine %s %s, intra-op threads %d, cores %d, grad mode %s, OMP_WAIT_POLICY %s,"
                        + " load average %s%n", engine.getEngineName(), engine.getVersion(), JniUtils.getNumThreads(),
                Runtime.getRuntime().availableProcessors(), JniUtils.isGradMode(), ompWait, loadBefore);

        List<Result> results = new ArrayList<>();
        for (Architecture arch : archs) {
            List<Integer> sizes = new ArrayList<>(List.of(arch.nativeInputSize()));
            if (extraSize != null && extraSize != arch.nativeInputSize()) {
                sizes.add(extraSize);
            }
            List<Variant> variants = new ArrayList<>();
            try {
                for (String precisionName : precisions) {
                    for (boolean fold : parseFolds()) {
                        variants.add(Variant.open(arch, Precision.parse(precisionName), fold));
                    }
                }
                for (int round = 1; round <= rounds; round++) {
                    for (int size : sizes) {
                        for (int batch : batches) {
                            // each round starts with another variant: under load, whoever runs first is not favoured
                            for (int k = 0; k < variants.size(); k++) {
                                Variant v = variants.get((k + round - 1) % variants.size());
                                Result r = measure(v.model, v.predictor, arch, v.name, size, batch);
                                results.add(r);
                                log.printf(Locale.ROOT, "round %d %-12s %-11s %3dx%-3d batch %d: %7.2f img/s, %6.1f CPU"
                                                + " ms/img (median %.1f ms/batch, %d batches in %.1f s)%n", round,
                                        arch.id(), v.name, size, size, batch, r.imagesPerSecond(),
                                        r.cpuMillisPerImage(), r.medianMillis(), r.iterations(), r.seconds());
                            }
                        }
                    }
                    if (eagerPython != null) {
                        for (int size : sizes) {
                            for (Result r : eagerReference(arch, size)) {
                                results.add(r);
                                log.printf(Locale.ROOT, "round %d %-12s eager       %3dx%-3d batch %d: %7.2f img/s, %6.1f CPU"
                                                + " ms/img (median %.1f ms/batch)%n", round, arch.id(), size, size,
                                        r.batch(), r.imagesPerSecond(), r.cpuMillisPerImage(), r.medianMillis());
                            }
                        }
                    }
                }
            } finally {
                variants.forEach(Variant::close);
            }
        }
        System.out.printf(Locale.ROOT, "Measured %s; %s %s; %d intra-op thread(s), %d core(s); OMP_WAIT_POLICY %s;"
                        + " load average before %s, after %s%n%n",
                ZonedDateTime.now().format(DateTimeFormatter.ISO_OFFSET_DATE_TIME), engine.getEngineName(),
                engine.getVersion(), threads, Runtime.getRuntime().availableProcessors(), ompWait, loadBefore,
                loadAverage());
        printTable(combineRounds(results), System.out);
        return 0;
    }

    /** The 1/5/15-minute load averages (Linux), or "n/a": other users of the CPU skew every figure. */
    private static String loadAverage() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
            return f[0] + " " + f[1] + " " + f[2];
        } catch (IOException | RuntimeException e) {
            return "n/a";
        }
    }

    /**
     * The same configurations in eager PyTorch, in a child process with the same threads. Its OpenBLAS must not
     * see OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, which make its GEMM ~100x slower on these machines (STACK.md).
     */
    private List<Result> eagerReference(Architecture arch, int size) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(eagerPython, eagerScript.toString(), "--arch", arch.id(),
                "--size", Integer.toString(size), "--threads", Integer.toString(threads),
                "--batch", String.join(",", batches.stream().map(String::valueOf).toList()),
                "--warmup", Integer.toString(Math.max(1, warmup)),
                "--min-iterations", Integer.toString(minIterations), "--min-seconds", Double.toString(minSeconds)));
        ProcessBuilder pb = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT);
        pb.environment().remove("OPENBLAS_CORETYPE");
        pb.environment().remove("OPENBLAS_L2_SIZE");
        pb.environment().putIfAbsent("OMP_WAIT_POLICY", "PASSIVE");
        Process process = pb.start();
        List<Result> results = new ArrayList<>();
        ObjectMapper json = new ObjectMapper();
        try (var lines = new java.io.BufferedReader(new java.io.InputStreamReader(process.getInputStream(),
                java.nio.charset.StandardCharsets.UTF_8))) {
            String line;
            while ((line = lines.readLine()) != null) {
                JsonNode n = json.readTree(line);
                results.add(new Result(arch, "eager", n.get("size").asInt(), n.get("batch").asInt(),
                        n.get("iterations").asInt(), n.get("iterations").asInt() * n.get("batch").asInt()
                        / n.get("imagesPerSecond").asDouble(), n.get("medianMillis").asDouble(),
                        n.get("cpuSeconds").asDouble()));
            }
        }
        int code = process.waitFor();
        if (code != 0) {
            throw new IOException(String.join(" ", command) + " exited with " + code);
        }
        return results;
    }

    /** One network to measure: its precision and batch-norm layout, loaded once and measured in every round. */
    private static final class Variant implements AutoCloseable {
        final String name;
        final Model model;
        final Bfloat16 bf16;
        final Predictor<NDList, NDList> predictor;

        private Variant(String name, Model model, Bfloat16 bf16) {
            this.name = name;
            this.model = model;
            this.bf16 = bf16;
            this.predictor = model.newPredictor(new NoopTranslator());
        }

        static Variant open(Architecture arch, Precision precision, boolean fold) throws IOException {
            Model model = Model.newInstance(arch.id(), Device.cpu(), "PyTorch");
            Bfloat16 bf16 = null;
            try {
                bf16 = precision == Precision.BF16 ? Bfloat16.open(model.getNDManager()) : null;
                Block block = Networks.classifier(arch, 2);
                int s0 = arch.nativeInputSize();
                Shape first = new Shape(1, 3, s0, s0);
                block.initialize(model.getNDManager(), DataType.FLOAT32, first);
                Block fresh = Networks.classifier(arch, 2);
                if (fold) {
                    BatchNormFolding.fold(block);
                    BatchNormFolding.foldStructure(fresh);
                }
                model.setBlock(bf16 == null ? block : bf16.copyToBfloat16(block, fresh, model.getNDManager(), first));
                return new Variant(precision.id() + (fold ? " folded" : ""), model, bf16);
            } catch (IOException | RuntimeException e) {
                model.close();
                if (bf16 != null) {
                    bf16.close();
                }
                throw e;
            }
        }

        @Override
        public void close() {
            predictor.close();
            model.close();
            if (bf16 != null) {
                bf16.close();
            }
        }
    }

    /** One result per configuration: the rounds' batches and seconds added up, the median of their medians. */
    static List<Result> combineRounds(List<Result> perRound) {
        java.util.Map<String, List<Result>> byConfiguration = new java.util.LinkedHashMap<>();
        for (Result r : perRound) {
            byConfiguration.computeIfAbsent(r.architecture() + "|" + r.variant() + "|" + r.size() + "|" + r.batch(),
                    k -> new ArrayList<>()).add(r);
        }
        List<Result> out = new ArrayList<>();
        for (List<Result> rounds : byConfiguration.values()) {
            Result first = rounds.get(0);
            double[] medians = rounds.stream().mapToDouble(Result::medianMillis).sorted().toArray();
            double median = medians.length % 2 == 1 ? medians[medians.length / 2]
                    : (medians[medians.length / 2 - 1] + medians[medians.length / 2]) / 2;
            out.add(new Result(first.architecture(), first.variant(), first.size(), first.batch(),
                    rounds.stream().mapToInt(Result::iterations).sum(),
                    rounds.stream().mapToDouble(Result::seconds).sum(), median,
                    rounds.stream().mapToDouble(Result::cpuSeconds).sum()));
        }
        return out;
    }

    private List<Boolean> parseFolds() {
        List<Boolean> out = new ArrayList<>();
        for (String f : folds) {
            switch (f.trim().toLowerCase(Locale.ROOT)) {
                case "on", "true", "yes" -> out.add(true);
                case "off", "false", "no" -> out.add(false);
                default -> throw new CommandLine.ParameterException(new CommandLine(this),
                        "--fold takes on, off or both (off,on), not '" + f + "'");
            }
        }
        return out;
    }

    private Result measure(Model model, Predictor<NDList, NDList> predictor, Architecture arch, String variant,
                           int size, int batch) throws TranslateException {
        Shape shape = new Shape(batch, 3, size, size);
        for (int i = 0; i < warmup; i++) {
            once(model, predictor, shape);
        }
        List<Long> times = new ArrayList<>();
        long cpu = 0;
        long start = System.nanoTime();
        long total = 0;
        while (times.size() < minIterations || total < minSeconds * 1e9) {
            long[] t = once(model, predictor, shape);
            times.add(t[0]);
            cpu += t[1];
            total = System.nanoTime() - start;
        }
        long timed = times.stream().mapToLong(Long::longValue).sum();
        long[] sorted = times.stream().mapToLong(Long::longValue).sorted().toArray();
        double median = sorted.length % 2 == 1
                ? sorted[sorted.length / 2]
                : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2.0;
        return new Result(arch, variant, size, batch, times.size(), timed / 1e9, median / 1e6, cpu / 1e9);
    }

    private static final com.sun.management.OperatingSystemMXBean OS =
            (com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean();

    /**
     * One prediction; returns the wall-clock and the process CPU nanoseconds spent in predict + reading the logits.
     * CPU time is the figure that survives a loaded machine: waiting for a core costs wall time, not CPU time.
     */
    private static long[] once(Model model, Predictor<NDList, NDList> predictor, Shape shape)
            throws TranslateException {
        try (NDManager call = model.getNDManager().newSubManager()) {
            NDArray x = call.randomUniform(-1f, 1f, shape);
            long c0 = OS.getProcessCpuTime();
            long t0 = System.nanoTime();
            NDList out = predictor.predict(new NDList(x));
            float[] logits = out.singletonOrThrow().toFloatArray();
            long t = System.nanoTime() - t0;
            long c = OS.getProcessCpuTime() - c0;
            if (logits.length != shape.get(0) * 2 || !Float.isFinite(logits[0])) {
                throw new IllegalStateException("unexpected logits " + Arrays.toString(logits));
            }
            out.close();
            return new long[] {t, c};
        }
    }

    /**
     * One row per configuration, with its ratio to DJL fp32 (unfolded if measured, else folded) and to eager PyTorch
     * in this run, where those were measured.
     */
    private static void printTable(List<Result> results, PrintStream out) {
        out.println("| model | input | batch | variant | img/s | vs DJL fp32 | vs eager | CPU ms/img | CPU: vs DJL fp32"
                + " | CPU: vs eager | median ms/batch | batches timed |");
        out.println("| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        for (Result r : results) {
            String ratio = ratio(r, results, "fp32", false).or(() -> ratio(r, results, "fp32 folded", false)).orElse("");
            String eager = ratio(r, results, "eager", false).orElse("");
            String cpuRatio = ratio(r, results, "fp32", true).or(() -> ratio(r, results, "fp32 folded", true)).orElse("");
            String cpuEager = ratio(r, results, "eager", true).orElse("");
            out.printf(Locale.ROOT, "| %s | %dx%d | %d | %s | %.1f | %s | %s | %.1f | %s | %s | %.0f | %d |%n",
                    r.architecture().id(), r.size(), r.size(), r.batch(), r.variant(), r.imagesPerSecond(), ratio, eager,
                    r.cpuMillisPerImage(), cpuRatio, cpuEager, r.medianMillis(), r.iterations());
        }
    }

    /** Speed of {@code r} relative to {@code baseline}'s (> 1: r is faster), by img/s or by CPU time per image. */
    private static java.util.Optional<String> ratio(Result r, List<Result> results, String baseline, boolean cpu) {
        return results.stream()
                .filter(f -> f.variant().equals(baseline) && f.architecture() == r.architecture()
                        && f.size() == r.size() && f.batch() == r.batch())
                .findFirst()
                .map(f -> String.format(Locale.ROOT, "%.2fx", cpu ? f.cpuMillisPerImage() / r.cpuMillisPerImage()
                        : r.imagesPerSecond() / f.imagesPerSecond()));
    }

    public static void main(String[] args) {
        int code = new CommandLine(new InferenceBenchmark()).execute(args);
        if (code != 0) {
            System.exit(code);
        }
    }
}
