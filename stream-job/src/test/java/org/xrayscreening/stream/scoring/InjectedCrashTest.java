package org.xrayscreening.stream.scoring;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class InjectedCrashTest {

    @TempDir
    Path dir;

    @AfterEach
    void switchOff() {
        System.clearProperty(InjectedCrash.PROPERTY);
    }

    @Test
    void offByDefaultEvenForAMarkedStudy() {
        assertThat(InjectedCrash.recordHalt(InjectedCrash.markerFor("mobilenet") + "1", "mobilenet")).isNull();
        InjectedCrash.maybeHalt(InjectedCrash.markerFor("mobilenet") + "1", "mobilenet"); // we are still alive
    }

    @Test
    void whenOnOnlyTheMarkedModelHaltsAndEveryHaltIsRecordedInTurn() {
        System.setProperty(InjectedCrash.PROPERTY, dir.toString());
        String study = InjectedCrash.markerFor("mobilenet") + "run1";
        assertThat(InjectedCrash.recordHalt(study, "resnet50")).isNull();
        assertThat(InjectedCrash.recordHalt("demo-000001", "mobilenet")).isNull();
        assertThat(InjectedCrash.recordHalt(null, "mobilenet")).isNull();
        // every attempt halts (the attempt journal, not the switch, must stop it): halt 1, halt 2, ...
        assertThat(InjectedCrash.recordHalt(study, "mobilenet")).hasFileName(study + ".halt-1");
        assertThat(InjectedCrash.recordHalt(study, "mobilenet")).hasFileName(study + ".halt-2");
        assertThat(dir.toFile().list()).containsExactlyInAnyOrder(study + ".halt-1", study + ".halt-2");
    }

    /** The real thing, in a child JVM: the process ends with the status, a finally block and a shutdown hook never run. */
    @Test
    void aMarkedStudyEndsTheJvmAbruptly() throws Exception {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Process p = new ProcessBuilder(java.toString(), "-Xmx64m", "-D" + InjectedCrash.PROPERTY + "=" + dir,
                "-cp", System.getProperty("java.class.path"), Halting.class.getName())
                .redirectErrorStream(true).start();
        assertThat(p.waitFor(2, TimeUnit.MINUTES)).isTrue();
        String out = new String(p.getInputStream().readAllBytes());
        assertThat(p.exitValue()).as(out).isEqualTo(InjectedCrash.EXIT_STATUS);
        assertThat(out).contains("before").contains("halting this JVM in model operator mobilenet")
                .doesNotContain("after", "finally", "hook");
        try (var files = Files.list(dir)) {
            assertThat(files.map(f -> f.getFileName().toString()).toList())
                    .isEqualTo(List.of(InjectedCrash.markerFor("mobilenet") + "x.halt-1"));
        }
    }

    /** The child JVM of {@link #aMarkedStudyEndsTheJvmAbruptly}. */
    static final class Halting {
        public static void main(String[] args) {
            Runtime.getRuntime().addShutdownHook(new Thread(() -> System.out.println("hook")));
            try {
                System.out.println("before");
                System.out.flush();
                InjectedCrash.maybeHalt(InjectedCrash.markerFor("mobilenet") + "x", "mobilenet");
                System.out.println("after");
            } finally {
                System.out.println("finally");
            }
        }
    }
}
