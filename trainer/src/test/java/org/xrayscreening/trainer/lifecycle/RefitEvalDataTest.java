package org.xrayscreening.trainer.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** {@code refit --eval-data} takes several collections, like {@code evaluate --data}. */
class RefitEvalDataTest {
    private static Refitter.Settings parse(String... extra) {
        RefitCommand refit = new RefitCommand();
        String[] required = {"--store", "/s", "--registry", "/r", "--bootstrap-servers", "k:9092"};
        String[] args = java.util.stream.Stream.concat(java.util.Arrays.stream(required), java.util.Arrays.stream(extra))
                .toArray(String[]::new);
        new CommandLine(refit).parseArgs(args);
        return refit.o.settings();
    }

    @Test
    void withoutEvalDataTheStoresHeldOutPatientsAreUsed() {
        Refitter.Settings settings = parse();
        assertThat(settings.evalData()).isEmpty();
        assertThat(settings.evalDataDescription()).isNull();
    }

    @Test
    void evalDataIsRepeatable() {
        Refitter.Settings settings = parse("--eval-data", "/data/hospital-a", "--eval-data", "/data/hospital-b");
        assertThat(settings.evalData()).containsExactly(Path.of("/data/hospital-a"), Path.of("/data/hospital-b"));
        assertThat(settings.evalDataDescription()).isEqualTo("/data/hospital-a + /data/hospital-b");
        // one collection is named as before
        assertThat(parse("--eval-data", "/data/cxr-dev").evalDataDescription()).isEqualTo("/data/cxr-dev");
    }
}
