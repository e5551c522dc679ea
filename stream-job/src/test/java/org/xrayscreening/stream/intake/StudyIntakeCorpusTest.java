package org.xrayscreening.stream.intake;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.apache.flink.streaming.util.OneInputStreamOperatorTestHarness;
import org.apache.flink.streaming.util.ProcessFunctionTestHarnesses;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xrayscreening.connectors.event.DeadLetter;
import org.xrayscreening.connectors.image.BadInputCorpus;
import org.xrayscreening.connectors.image.BadInputCorpus.Entry;
import org.xrayscreening.connectors.image.ImageSourcePolicy;
import org.xrayscreening.connectors.kafka.RawRecord;

/**
 * Every entry of the bad-input corpus through the job's first operator, in one operator instance (as in the
 * job: one bad record must not spoil the next): a dead letter with the manifest's reason and the original bytes,
 * or, for the valid-but-unusual entries, a canonical image with the right pixels.
 */
public class StudyIntakeCorpusTest {

    @TempDir
    Path root;

    @Test
    void everyCorpusEntryGetsItsOutcomeAndTheOperatorKeepsGoing() throws Exception {
        List<Entry> entries = BadInputCorpus.entries();
        BadInputCorpus.writeImages(entries, root);
        ImageSourcePolicy sources = ImageSourcePolicy.of(List.of(root), List.of(BadInputCorpus.ALLOWED_URL_PREFIX), false);
        try (OneInputStreamOperatorTestHarness<RawRecord, StudyImage> harness = ProcessFunctionTestHarnesses
                .forProcessFunction(new StudyIntake(BadInputCorpus.LIMITS, sources, 512, "127.0.0.1", 0))) {
            long offset = 0;
            for (Entry e : entries) {
                harness.processElement(new RawRecord(e.name().getBytes(StandardCharsets.UTF_8), e.record(root),
                        "xray.acquired", 0, offset++, 0L), 0L);
            }
            Map<String, DeadLetter> dead = harness.getSideOutput(StudyIntake.DEAD_LETTERS).stream()
                    .map(r -> r.getValue()).collect(Collectors.toMap(DeadLetter::key, Function.identity()));
            Map<String, StudyImage> images = harness.extractOutputValues().stream()
                    .collect(Collectors.toMap(s -> s.studyId, Function.identity()));

            for (Entry e : entries) {
                if (e.valid()) {
                    assertThat(dead).as(e.name() + " is valid: " + dead.get(e.name())).doesNotContainKey(e.name());
                    assertThat(images).as(e.name()).containsKey(e.studyId());
                } else {
                    assertThat(images).as(e.name()).doesNotContainKey(e.studyId());
                    assertThat(dead).as(e.name()).containsKey(e.name());
                    DeadLetter d = dead.get(e.name());
                    assertThat(d.reason()).as(e.name() + " (" + d.detail() + ")").isEqualTo(e.expected());
                    assertOriginal(d, e.record(root));
                    assertThat(d.detail()).as(e.name()).doesNotContain("PATIENT", "passwd", "127.0.0.1", "169.254",
                            "unreachable.invalid", root.toString());
                }
            }
            assertThat(dead.size() + images.size()).isEqualTo(entries.size());

            // palette PNG: index i holds gray 255 - i, pixel (x, y) index (4x + y) % 256
            StudyImage palette = images.get("corpus-png-palette");
            assertThat(gray8(palette, 0, 0)).isEqualTo(255);
            assertThat(gray8(palette, 10, 3)).isEqualTo(255 - 43);
            // 1-bit PNG: left half black, right half white (not index 1 of 255)
            StudyImage binary = images.get("corpus-png-1bit-gray");
            assertThat(gray8(binary, 0, 0)).isZero();
            assertThat(gray8(binary, 63, 47)).isEqualTo(255);
        }
    }

    /**
     * The dead letter carries the original bytes, or, for a record over {@link DeadLetter#MAX_ORIGINAL_VALUE_BYTES}
     * (which base64 would push past Kafka's 1 MiB record limit), says it left them out.
     */
    public static void assertOriginal(DeadLetter d, byte[] original) {
        if (original.length > DeadLetter.MAX_ORIGINAL_VALUE_BYTES) {
            assertThat(d.originalValueBase64()).isNull();
            assertThat(d.detail()).contains("original value (" + original.length + " bytes");
        } else {
            assertThat(Base64.getDecoder().decode(d.originalValueBase64())).isEqualTo(original);
        }
    }

    private static int gray8(StudyImage s, int x, int y) {
        return (int) Math.round((s.pixels[y * s.width + x] & 0xFFFF) / 257.0);
    }
}
