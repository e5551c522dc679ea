package org.xrayscreening.stream.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.xrayscreening.connectors.event.Recommendation;
import org.xrayscreening.models.NativeRuntime;
import org.xrayscreening.stream.ScreeningJob;
import org.xrayscreening.stream.local.DemoModels;
import org.xrayscreening.stream.local.EmbeddedPipeline;

/**
 * {@code benchmark --compare}: scoring configurations (batch size, batch wait, intra-op threads) measured in one
 * run, so that they share the machine's conditions. Each configuration gets a fresh pipeline, its saturation
 * rate (studies streamed at once), then fixed offered loads at fractions of that rate; rounds repeat the
 * whole sequence, so configurations alternate over time. Prints one Markdown table of medians over rounds.
 */
final class LoadComparison {

    /** One configuration's figures in one round. */
    private record Measured(double saturation, List<double[]> atLoads) {}

    private final ScreeningBenchmark bench;
    private final ScreeningJob.Options options;

    LoadComparison(ScreeningBenchmark bench, ScreeningJob.Options options) {
        this.bench = bench;
        this.options = options;
    }

    int run() throws Exception {
        Map<String, List<Measured>> byConfig = new LinkedHashMap<>();
        for (String c : bench.compare) {
            parse(c); // fail before anything starts
            byConfig.put(c.trim(), new ArrayList<>());
        }
        String machine = machine();
        String loadBefore = loadAverage();
        Instant started = Instant.now();
        for (int round = 1; round <= bench.rounds; round++) {
            for (Map.Entry<String, List<Measured>> entry : byConfig.entrySet()) {
                System.out.printf(Locale.ROOT, "round %d/%d, configuration %s (size/wait ms/threads), load average %s%n",
                        round, bench.rounds, entry.getKey(), loadAverage());
                entry.getValue().add(measure(entry.getKey(), round));
            }
        }
        System.out.println(table(byConfig, machine, started, loadBefore, loadAverage()));
        return 0;
    }

    private Measured measure(String config, int round) throws Exception {
        int[] parsed = parse(config);
        options.batchSize = parsed[0];
        options.batchWaitMs = parsed[1];
        options.intraOpThreads = parsed[2];
        String tag = "r" + round + "-" + config.replace('/', '_') + "-";
        try (EmbeddedPipeline pipeline = EmbeddedPipeline.start(options,
                EmbeddedPipeline.demoModels(options.registry, DemoModels.DEFAULT_INPUT_SIZE,
                        DemoModels.DEFAULT_IMAGES, DemoModels.DEFAULT_EPOCHS))) {
            bench.run(pipeline, options, tag + "warmup-", bench.warmup, 0);
            ScreeningBenchmark.Result saturated = bench.run(pipeline, options, tag + "saturation-", bench.studies, 0);
            double saturation = saturated.n() / saturated.seconds();
            System.out.printf(Locale.ROOT, "  saturation %.2f studies/s%n", saturation);
            List<double[]> atLoads = new ArrayList<>();
            for (double load : bench.loads) {
                double rate = load * saturation;
                ScreeningBenchmark.Result r = bench.run(pipeline, options,
                        tag + "load" + Math.round(load * 100) + "-", bench.loadStudies, rate);
                List<Long> produced = r.recommendations().stream().map(Recommendation::endToEndMillis).sorted().toList();
                double[] figures = {rate, r.n() / r.seconds(), ScreeningBenchmark.Result.percentile(produced, 50),
                        ScreeningBenchmark.Result.percentile(produced, 95), ScreeningBenchmark.Result.percentile(produced, 99)};
                System.out.printf(Locale.ROOT, "  %.0f%% load: offered %.2f/s, answered %.2f/s, latency p50 %.0f p95 %.0f p99 %.0f ms%n",
                        load * 100, figures[0], figures[1], figures[2], figures[3], figures[4]);
                atLoads.add(figures);
            }
            return new Measured(saturation, atLoads);
        }
    }

    /** "SIZE/WAIT/THREADS", e.g. "4/100/1". */
    static int[] parse(String config) {
        String[] parts = config.trim().split("/");
        if (parts.length != 3) {
            throw new IllegalArgumentException("configuration '" + config + "' is not SIZE/WAIT_MS/THREADS, e.g. 4/100/1");
        }
        int[] values = new int[3];
        for (int i = 0; i < 3; i++) {
            values[i] = Integer.parseInt(parts[i].trim());
        }
        if (values[0] < 1 || values[1] < 0 || values[2] < 0) {
            throw new IllegalArgumentException("configuration '" + config + "': size >= 1, wait >= 0, threads >= 0");
        }
        return values;
    }

    private String table(Map<String, List<Measured>> byConfig, String machine, Instant started, String loadBefore,
                         String loadAfter) {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "%nScoring configurations compared %s to %s on %s; load average %s before, "
                        + "%s after; %d round(s), medians; models %s; %d studies at once for saturation, %d per "
                        + "fixed load; latency = acquired -> decision produced (ms); checkpoint interval %d ms.%n%n",
                started, Instant.now(), machine, loadBefore, loadAfter, bench.rounds, String.join(",", options.models),
                bench.studies, bench.loadStudies, options.checkpointIntervalMs));
        sb.append("| batch size / wait ms / threads | saturation studies/s | vs first |");
        for (double load : bench.loads) {
            int pct = (int) Math.round(load * 100);
            sb.append(String.format(Locale.ROOT, " %d%%: offered / answered /s | %d%%: p50 / p95 / p99 ms |", pct, pct));
        }
        sb.append("\n| --- | ---: | ---: |");
        sb.append(" ---: | ---: |".repeat(bench.loads.size()));
        sb.append('\n');
        double first = Double.NaN;
        for (Map.Entry<String, List<Measured>> e : byConfig.entrySet()) {
            List<Measured> rounds = e.getValue();
            double saturation = median(rounds.stream().mapToDouble(Measured::saturation).toArray());
            if (Double.isNaN(first)) {
                first = saturation;
            }
            sb.append(String.format(Locale.ROOT, "| %s | %.2f | %.2fx |", e.getKey(), saturation, saturation / first));
            for (int l = 0; l < bench.loads.size(); l++) {
                int load = l;
                double[] m = new double[5];
                for (int k = 0; k < 5; k++) {
                    int col = k;
                    m[k] = median(rounds.stream().mapToDouble(r -> r.atLoads().get(load)[col]).toArray());
                }
                sb.append(String.format(Locale.ROOT, " %.2f / %.2f | %.0f / %.0f / %.0f |", m[0], m[1], m[2], m[3], m[4]));
            }
            sb.append('\n');
        }
        return sb.toString();
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        java.util.Arrays.sort(sorted);
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    private static String machine() {
        return NativeRuntime.describe().replaceFirst("^native runtime: ", "");
    }

    private static String loadAverage() {
        try {
            String[] parts = Files.readString(Path.of("/proc/loadavg")).split(" ");
            return parts[0] + " " + parts[1] + " " + parts[2];
        } catch (IOException e) {
            return "n/a";
        }
    }
}
