package org.xrayscreening.models;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

/**
 * What native environment PyTorch runs in, in one line for logs and benchmark headers: the CPU, the memory
 * allocator actually mapped into this process (jemalloc / tcmalloc preloaded, or glibc), and the settings that
 * change native speed or behaviour. The launchers choose these in {@code scripts/native-env.sh}; this class only
 * reports what is in force, read from {@code /proc}, so a JVM started some other way says so too.
 */
public final class NativeRuntime {
    private static final AtomicBoolean LOGGED = new AtomicBoolean();

    private NativeRuntime() {}

    /** The allocator whose library is mapped into this process: "jemalloc", "tcmalloc" or "glibc". */
    public static String allocator() {
        return allocatorIn(readOrEmpty(Path.of("/proc/self/maps")));
    }

    static String allocatorIn(List<String> mapsLines) {
        for (String line : mapsLines) {
            if (line.contains("libjemalloc")) {
                return "jemalloc";
            }
            if (line.contains("libtcmalloc")) {
                return "tcmalloc";
            }
        }
        return "glibc";
    }

    /** "AMD EPYC 9R45 (family 26, model 2)" or "unknown CPU". */
    public static String cpu() {
        return cpuIn(readOrEmpty(Path.of("/proc/cpuinfo")));
    }

    static String cpuIn(List<String> cpuinfoLines) {
        String name = null;
        String family = null;
        String model = null;
        for (String line : cpuinfoLines) {
            int colon = line.indexOf(':');
            if (colon < 0) {
                continue;
            }
            String key = line.substring(0, colon).trim();
            String value = line.substring(colon + 1).trim();
            if (name == null && key.equals("model name")) {
                name = value;
            } else if (family == null && key.equals("cpu family")) {
                family = value;
            } else if (model == null && key.equals("model")) {
                model = value;
            }
            if (line.isBlank() && name != null) {
                break; // first processor only
            }
        }
        if (name == null) {
            return "unknown CPU";
        }
        return family == null ? name : String.format(Locale.ROOT, "%s (family %s, model %s)", name, family, model);
    }

    /**
     * Whether this CPU has native bfloat16 arithmetic (AVX512_BF16 or AMX-BF16). Elsewhere oneDNN emulates bf16
     * and it is slower than fp32, so {@code Precision.AUTO} only picks bf16 where this is true.
     */
    public static boolean hasBfloat16Instructions() {
        return hasBfloat16In(readOrEmpty(Path.of("/proc/cpuinfo")));
    }

    static boolean hasBfloat16In(List<String> cpuinfoLines) {
        for (String line : cpuinfoLines) {
            if (line.startsWith("flags")) {
                List<String> flags = List.of(line.substring(line.indexOf(':') + 1).trim().split("\\s+"));
                return flags.contains("avx512_bf16") || flags.contains("amx_bf16");
            }
        }
        return false;
    }

    /** One line: CPU, cores, allocator and the native settings in force. */
    public static String describe() {
        String allocator = allocator();
        StringBuilder sb = new StringBuilder("native runtime: ").append(cpu())
                .append(", ").append(Runtime.getRuntime().availableProcessors()).append(" core(s); allocator ")
                .append(allocator);
        String conf = System.getenv(allocator.equals("jemalloc") ? "MALLOC_CONF" : "TCMALLOC_RELEASE_RATE");
        if (!allocator.equals("glibc") && conf != null) {
            sb.append(" (").append(conf).append(')');
        }
        if (allocator.equals("glibc")) {
            sb.append(" (no jemalloc preloaded: PyTorch runs 1.1-3x slower, docs/benchmarks.md; start through the project's launchers"
                    + " or source scripts/native-env.sh)");
        }
        for (String var : new String[] {"OMP_WAIT_POLICY", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA"}) {
            String v = System.getenv(var);
            if (v != null) {
                sb.append("; ").append(var).append('=').append(v);
            }
        }
        return sb.toString();
    }

    /** Logs {@link #describe()} once per JVM (every job and command calls this at start). */
    public static void logOnce(Consumer<String> log) {
        if (LOGGED.compareAndSet(false, true)) {
            log.accept(describe());
        }
    }

    private static List<String> readOrEmpty(Path path) {
        try {
            return Files.readAllLines(path);
        } catch (IOException | RuntimeException e) {
            return List.of();
        }
    }
}
