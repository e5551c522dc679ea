package org.xrayscreening.models;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class NativeRuntimeTest {

    @Test
    void allocatorIsTheOneMappedIntoTheProcess() {
        String glibcOnly = "7f1c2a000000-7f1c2a022000 r--p 00000000 08:01 1 /usr/lib/x86_64-linux-gnu/libc.so.6";
        String jemalloc = "7f1c2b000000-7f1c2b010000 r-xp 00000000 08:01 2 /usr/lib/x86_64-linux-gnu/libjemalloc.so.2";
        String tcmalloc = "7f1c2c000000-7f1c2c010000 r-xp 00000000 08:01 3 /usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4.5.9";
        assertThat(NativeRuntime.allocatorIn(List.of(glibcOnly))).isEqualTo("glibc");
        assertThat(NativeRuntime.allocatorIn(List.of(glibcOnly, jemalloc))).isEqualTo("jemalloc");
        assertThat(NativeRuntime.allocatorIn(List.of(tcmalloc, glibcOnly))).isEqualTo("tcmalloc");
    }

    @Test
    void allocatorOfThisJvmMatchesItsPreload() {
        // surefire starts the test JVM with the environment scripts/native-env.sh chose (or none)
        String preload = System.getenv().getOrDefault("LD_PRELOAD", "");
        String expected = preload.contains("libjemalloc") ? "jemalloc" : preload.contains("libtcmalloc") ? "tcmalloc" : "glibc";
        assertThat(NativeRuntime.allocator()).isEqualTo(expected);
        assertThat(NativeRuntime.describe()).contains("allocator " + expected);
    }

    @Test
    void cpuNamesModelAndFamilyOfTheFirstProcessor() {
        List<String> cpuinfo = List.of("processor\t: 0", "vendor_id\t: AuthenticAMD", "cpu family\t: 26",
                "model\t\t: 2", "model name\t: AMD EPYC 9R45", "", "processor\t: 1", "cpu family\t: 99",
                "model name\t: other");
        assertThat(NativeRuntime.cpuIn(cpuinfo)).isEqualTo("AMD EPYC 9R45 (family 26, model 2)");
        assertThat(NativeRuntime.cpuIn(List.of())).isEqualTo("unknown CPU");
    }

    @Test
    void bfloat16InstructionsAreReadFromTheCpuFlags() {
        String zen4 = "flags\t\t: fpu vme avx2 avx512f avx512_bf16 clzero";
        String sapphireRapids = "flags\t\t: fpu avx512f amx_bf16 amx_tile";
        String zen3 = "flags\t\t: fpu vme avx2 fma";
        assertThat(NativeRuntime.hasBfloat16In(List.of("processor\t: 0", zen4))).isTrue();
        assertThat(NativeRuntime.hasBfloat16In(List.of(sapphireRapids))).isTrue();
        assertThat(NativeRuntime.hasBfloat16In(List.of(zen3))).isFalse();
        // a flag that merely starts with the name does not count
        assertThat(NativeRuntime.hasBfloat16In(List.of("flags\t: avx512_bf16x"))).isFalse();
        assertThat(NativeRuntime.hasBfloat16In(List.of())).isFalse();
    }
}
