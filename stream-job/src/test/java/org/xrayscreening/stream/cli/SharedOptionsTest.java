package org.xrayscreening.stream.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xrayscreening.stream.ScreeningJob;
import picocli.CommandLine;
import picocli.CommandLine.ParseResult;

/** The shared options (ScreeningJob.Options) work before and after the sub-command, and --config still applies. */
class SharedOptionsTest {

    private static ScreeningJob parse(String... args) {
        ScreeningJob job = new ScreeningJob();
        ScreeningJob.commandLine(job, args).parseArgs(args);
        return job;
    }

    private static ParseResult subcommandResult(String... args) {
        ParseResult top = ScreeningJob.commandLine(new ScreeningJob(), args).parseArgs(args);
        return top.subcommand();
    }

    @Test
    void optionsAfterTheSubcommandReachTheSharedOptions() {
        ScreeningJob job = parse("local", "--registry", "/tmp/other-registry", "--models", "mobilenet@production",
                "--checkpoint-interval", "1234", "--metrics-host", "127.0.0.2", "--count", "3");
        assertThat(job.options.registry).isEqualTo(Path.of("/tmp/other-registry"));
        assertThat(job.options.models).containsExactly("mobilenet@production");
        assertThat(job.options.checkpointIntervalMs).isEqualTo(1234);
        assertThat(job.options.metricsHost).isEqualTo("127.0.0.2");
    }

    @Test
    void optionsBeforeTheSubcommandStillWorkAndAreNotResetByTheSubcommandsDefaults() {
        ScreeningJob job = parse("--registry", "/tmp/r1", "--models", "resnet50@production", "local", "--count", "3");
        assertThat(job.options.registry).isEqualTo(Path.of("/tmp/r1"));
        assertThat(job.options.models).containsExactly("resnet50@production");
        ScreeningJob bench = parse("--checkpoint-interval", "777", "benchmark", "--studies", "5");
        assertThat(bench.options.checkpointIntervalMs).isEqualTo(777);
    }

    @Test
    void defaultsApplyWhenAnOptionIsGivenNowhere() {
        ScreeningJob job = parse("local");
        assertThat(job.options.registry).isEqualTo(Path.of("registry"));
        assertThat(job.options.models).hasSize(4);
        assertThat(job.options.checkpointIntervalMs).isEqualTo(10000);
    }

    @Test
    void givenSeesAnOptionWhereverItWasGiven() {
        for (String sub : List.of("local", "benchmark")) {
            assertThat(ScreeningJob.given(subcommandResult(sub, "--registry", "/r"), "--registry")).isTrue();
            assertThat(ScreeningJob.given(subcommandResult("--registry", "/r", sub), "--registry")).isTrue();
            assertThat(ScreeningJob.given(subcommandResult(sub, "--metrics-host=::1"), "--metrics-host")).isTrue();
            assertThat(ScreeningJob.given(subcommandResult(sub, "--checkpoint-interval", "5"), "--checkpoint-interval")).isTrue();
            assertThat(ScreeningJob.given(subcommandResult(sub), "--registry")).isFalse();
            assertThat(ScreeningJob.given(subcommandResult(sub, "--work-dir", "/w"), "--registry")).isFalse();
        }
    }

    @Test
    void configFileGivesDefaultsWhereverItIsGivenAndTheCommandLineWins(@TempDir Path dir) throws IOException {
        Path config = dir.resolve("screening.properties");
        Files.writeString(config, "registry=/from/config\ncheckpoint-interval=4321\nbootstrap-servers=kafka:9092\n");
        ScreeningJob before = parse("--config", config.toString(), "local");
        assertThat(before.options.registry).isEqualTo(Path.of("/from/config"));
        assertThat(before.options.checkpointIntervalMs).isEqualTo(4321);
        ScreeningJob after = parse("local", "--config", config.toString(), "--registry", "/cli");
        assertThat(after.options.registry).isEqualTo(Path.of("/cli"));
        assertThat(after.options.checkpointIntervalMs).isEqualTo(4321);
        assertThat(after.options.bootstrapServers).isEqualTo("kafka:9092");
        ScreeningJob cluster = parse("--config", config.toString());
        assertThat(cluster.options.bootstrapServers).isEqualTo("kafka:9092");
    }

    @Test
    void subcommandHelpStillWorks() {
        assertThat(new CommandLine(new ScreeningJob()).execute("local", "--help")).isZero();
        assertThat(new CommandLine(new ScreeningJob()).execute("benchmark", "--help")).isZero();
    }
}
