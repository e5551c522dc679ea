package org.xrayscreening.models.inference;

import java.util.Locale;
import org.xrayscreening.models.NativeRuntime;

/**
 * The number format a classifier computes in. Weights are always stored and trained in fp32; {@link #BF16}
 * casts them (and each input) to bfloat16 at load time, which on CPUs with AVX512_BF16 or AMX roughly halves the
 * cost of every convolution at a measured cost in accuracy (docs/benchmarks.md, "bf16 inference").
 */
public enum Precision {
    FP32,
    BF16;

    /** "fp32", "bf16", or "auto" (bf16 only where the CPU has native bf16 instructions). */
    public static Precision parse(String value) {
        String v = value.trim().toLowerCase(Locale.ROOT);
        return switch (v) {
            case "fp32", "float32" -> FP32;
            case "bf16", "bfloat16" -> BF16;
            case "auto" -> NativeRuntime.hasBfloat16Instructions() ? BF16 : FP32;
            default -> throw new IllegalArgumentException("precision must be fp32, bf16 or auto, not '" + value + "'");
        };
    }

    /**
     * This precision, or a clear error if this CPU cannot run it fast: bf16 without AVX512_BF16 or AMX-BF16 is
     * emulated by oneDNN and slower than fp32, so asking for it there is a configuration mistake.
     */
    public Precision requireSupported() {
        return requireSupported(NativeRuntime.hasBfloat16Instructions(), NativeRuntime.cpu());
    }

    /** {@link #requireSupported()} for a CPU that has (or lacks) native bf16 instructions. */
    public Precision requireSupported(boolean cpuHasBfloat16, String cpu) {
        if (this == BF16 && !cpuHasBfloat16) {
            throw new IllegalStateException("bf16 inference needs a CPU with AVX512_BF16 or AMX-BF16, and " + cpu
                    + " has neither (no avx512_bf16 / amx_bf16 in /proc/cpuinfo); use fp32");
        }
        return this;
    }

    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }
}
