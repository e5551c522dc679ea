package org.xrayscreening.stream.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.xrayscreening.models.inference.Precision;
import picocli.CommandLine;
import org.xrayscreening.stream.ScreeningJob;
import org.xrayscreening.stream.scoring.ScoringBatch;

/** --batch-size, --batch-wait, --intra-op-threads and --precision reach the topology's settings, and a wait too long is refused. */
class BatchingOptionsTest {

    private static ScreeningJob parse(String... args) {
        ScreeningJob job = new ScreeningJob();
        ScreeningJob.commandLine(job, args).parseArgs(args);
        return job;
    }

    @Test
    void optionsOfTheLocalRunReachTheSettings() {
        ScoringBatch batching = parse("local", "--batch-size", "8", "--batch-wait", "250", "--intra-op-threads", "2")
                .options.settings().batching();
        assertThat(batching).isEqualTo(new ScoringBatch(8, Duration.ofMillis(250), 2));
        assertThat(batching.unbatched()).isFalse();
        assertThat(parse("--batch-size", "1", "benchmark").options.settings().batching().unbatched()).isTrue();
    }

    @Test
    void byDefaultTheJobScoresAsBeforeUntilABatchSizeIsChosenByMeasurement() {
        ScoringBatch batching = parse("local").options.settings().batching();
        assertThat(batching).isEqualTo(ScoringBatch.DEFAULT);
        assertThat(batching.unbatched()).isTrue();
        assertThat(batching.intraOpThreads()).isZero();
    }

    @Test
    void aBatchWaitThatWouldEatTheEnsembleTimeoutIsRefused() {
        ScreeningJob job = parse("local", "--ensemble-timeout", "1000", "--batch-wait", "500");
        assertThatThrownBy(() -> job.options.settings()).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("below half the ensemble timeout");
        assertThat(parse("local", "--ensemble-timeout", "1000", "--batch-wait", "499").options.settings()
                .batching().maxWait()).isEqualTo(Duration.ofMillis(499));
    }

    @Test
    void nonsenseIsRefusedWithTheReason() {
        assertThatThrownBy(() -> parse("local", "--batch-size", "0").options.settings())
                .hasMessageContaining("batch size must be at least 1");
        assertThatThrownBy(() -> parse("local", "--intra-op-threads", "-1").options.settings())
                .hasMessageContaining("intra-op threads");
    }

    @Test
    void precisionIsFp32UnlessBf16IsAskedFor() {
        assertThat(parse("local").options.settings().batching().precision()).isEqualTo(Precision.FP32);
        assertThat(parse("local", "--precision", "bf16").options.settings().batching().precision())
                .isEqualTo(Precision.BF16);
        // auto would pick by the CPU that starts the job, which need not be the one that scores
        assertThatThrownBy(() -> parse("local", "--precision", "auto"))
                .isInstanceOf(CommandLine.ParameterException.class).hasMessageContaining("fp32 or bf16, not auto");
        assertThatThrownBy(() -> parse("local", "--precision", "fp16"))
                .isInstanceOf(CommandLine.ParameterException.class).hasMessageContaining("fp32 or bf16");
    }
}
