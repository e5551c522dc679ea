package org.xrayscreening.stream.intake;

import static org.assertj.core.api.Assertions.assertThat;

import java.awt.image.BufferedImage;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import org.apache.flink.streaming.util.OneInputStreamOperatorTestHarness;
import org.apache.flink.streaming.util.ProcessFunctionTestHarnesses;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xrayscreening.connectors.event.DeadLetter;
import org.xrayscreening.connectors.event.DeadLetterReason;
import org.xrayscreening.connectors.event.EventCodec;
import org.xrayscreening.connectors.event.ImageReference;
import org.xrayscreening.connectors.event.XrayAcquired;
import org.xrayscreening.connectors.image.DicomWriter;
import org.xrayscreening.connectors.image.ImageLimits;
import org.xrayscreening.connectors.image.ImageSourcePolicy;
import org.xrayscreening.stream.metrics.ScreeningMetrics;
import org.xrayscreening.connectors.kafka.RawRecord;
import org.xrayscreening.models.synthetic.SyntheticChestXray;
import org.xrayscreening.stream.local.SampleStudies;

class StudyIntakeTest {

    private static final EventCodec CODEC = new EventCodec();
    private OneInputStreamOperatorTestHarness<RawRecord, StudyImage> harness;
    private long offset;

    @TempDir
    Path dir;

    @BeforeEach
    void setUp() throws Exception {
        // small limits so the oversize path is cheap to hit
        ImageLimits limits = new ImageLimits(2_000_000, 1_000_000, 2048);
        // claim checks may come from the test's folder only
        ImageSourcePolicy sources = ImageSourcePolicy.of(List.of(dir.resolve("images")), List.of(), false);
        Files.createDirectories(dir.resolve("images"));
        harness = ProcessFunctionTestHarnesses.forProcessFunction(new StudyIntake(limits, sources, 128, "127.0.0.1", 0));
    }

    @AfterEach
    void tearDown() throws Exception {
        harness.close();
    }

    private void send(String key, byte[] value) throws Exception {
        harness.processElement(new RawRecord(key == null ? null : key.getBytes(StandardCharsets.UTF_8), value,
                "xray.acquired", 1, offset++, 0L), 0L);
    }

    private static byte[] event(String studyId, ImageReference image) {
        return CODEC.toJson(new XrayAcquired(1, studyId, "PAT-SECRET-42", Instant.parse("2026-11-26T08:00:00Z"),
                "PA", "test", image));
    }

    @Test
    void validInlinePngBecomesCanonicalGray16() throws Exception {
        BufferedImage image = SyntheticChestXray.positive(1, 256).gray8();
        send("s1", event("s1", ImageReference.inline(ImageReference.PNG, SampleStudies.encode(image, "png"))));

        List<StudyImage> out = harness.extractOutputValues();
        assertThat(out).hasSize(1);
        StudyImage study = out.get(0);
        assertThat(study.studyId).isEqualTo("s1");
        assertThat(study.patientRef).isEqualTo("PAT-SECRET-42");
        assertThat(study.acquiredAtMillis).isEqualTo(Instant.parse("2026-11-26T08:00:00Z").toEpochMilli());
        // reduced to the canonical longer side, 16-bit values spanning the 8-bit picture's range
        assertThat(study.width).isEqualTo(128);
        assertThat(study.height).isEqualTo(128);
        assertThat(study.pixels).hasSize(128 * 128);
        int max = 0;
        for (short p : study.pixels) {
            max = Math.max(max, Short.toUnsignedInt(p));
        }
        assertThat(max).isGreaterThan(255 * 100);
        assertThat(harness.getSideOutput(StudyIntake.DEAD_LETTERS)).isNullOrEmpty();
    }

    @Test
    void dicomByFileUriAndJpegInlineAreAccepted() throws Exception {
        Path dcm = DicomWriter.of(SyntheticChestXray.negative(2, 100).gray16()).write(dir.resolve("images/a.dcm"));
        send("s2", event("s2", ImageReference.at(ImageReference.DICOM, dcm.toUri().toString())));
        send("s3", event("s3", ImageReference.inline(ImageReference.JPEG,
                SampleStudies.encode(SyntheticChestXray.negative(3, 100).gray8(), "jpeg"))));
        List<StudyImage> out = harness.extractOutputValues();
        assertThat(out).extracting(s -> s.studyId).containsExactly("s2", "s3");
        assertThat(out.get(0).width).isEqualTo(100);
    }

    @Test
    void twelveBitMonochrome1DicomGivesThePngsPixels() throws Exception {
        BufferedImage image = SyntheticChestXray.positive(4, 120).gray8();
        send("png", event("png", ImageReference.inline(ImageReference.PNG, SampleStudies.encode(image, "png"))));
        // the usual CR/DX encoding: 12 of 16 bits, MONOCHROME1, window in the header (what the demo streams)
        Path dcm = SampleStudies.detectorDicom(image).write(dir.resolve("images/b.dcm"));
        send("dcm", event("dcm", ImageReference.at(ImageReference.DICOM, dcm.toUri().toString())));
        List<StudyImage> out = harness.extractOutputValues();
        assertThat(out).extracting(st -> st.studyId).containsExactly("png", "dcm");
        assertThat(out.get(1).pixels).containsExactly(out.get(0).pixels);
    }

    @Test
    void unsupportedTransferSyntaxIsADeadLetterNamingIt() throws Exception {
        byte[] jpegLs = DicomWriter.gray8(4, 4, new byte[16])
                .encapsulated("1.2.840.10008.1.2.4.80", new byte[] {(byte) 0xFF, (byte) 0xD8, 0, 0}, 0).toBytes();
        send("ls", event("ls", ImageReference.inline(ImageReference.DICOM, jpegLs)));
        assertThat(harness.extractOutputValues()).isEmpty();
        List<DeadLetter> dead = harness.getSideOutput(StudyIntake.DEAD_LETTERS).stream().map(r -> r.getValue()).toList();
        assertThat(dead).singleElement().satisfies(d -> {
            assertThat(d.reason()).isEqualTo(DeadLetterReason.UNDECODABLE_IMAGE);
            assertThat(d.detail()).contains("1.2.840.10008.1.2.4.80").contains("JPEG-LS").contains("not supported");
        });
    }

    @Test
    void badRecordsGoToDeadLettersWithReasonAndOriginalBytes() throws Exception {
        byte[] malformed = "{\"schemaVersion\":1,\"studyId\":".getBytes(StandardCharsets.UTF_8);
        send("m", malformed);
        send("n", "{\"schemaVersion\":1,\"acquiredAt\":\"2026-11-26T08:00:00Z\"}".getBytes(StandardCharsets.UTF_8));
        send("u", event("u", ImageReference.inline(ImageReference.PNG, "not an image".getBytes(StandardCharsets.UTF_8))));
        send("t", event("t", ImageReference.inline("image/gif", new byte[] {1, 2, 3})));
        Path big = dir.resolve("images/big.png");
        Files.write(big, SampleStudies.encode(new BufferedImage(1500, 1500, BufferedImage.TYPE_BYTE_GRAY), "png"));
        send("o", event("o", ImageReference.at(ImageReference.PNG, big.toUri().toString())));
        send("x", event("x", ImageReference.at(ImageReference.PNG, dir.resolve("images/missing.png").toUri().toString())));

        assertThat(harness.extractOutputValues()).isEmpty();
        List<DeadLetter> dead = harness.getSideOutput(StudyIntake.DEAD_LETTERS).stream().map(r -> r.getValue()).toList();
        assertThat(dead).extracting(DeadLetter::reason).containsExactly(
                DeadLetterReason.MALFORMED_JSON, DeadLetterReason.MISSING_FIELD, DeadLetterReason.UNDECODABLE_IMAGE,
                DeadLetterReason.UNKNOWN_CONTENT_TYPE, DeadLetterReason.IMAGE_TOO_LARGE,
                DeadLetterReason.IMAGE_UNREACHABLE);
        assertThat(dead).extracting(DeadLetter::offset).containsExactly(0L, 1L, 2L, 3L, 4L, 5L);
        assertThat(dead).allSatisfy(d -> {
            assertThat(d.sourceTopic()).isEqualTo("xray.acquired");
            assertThat(d.partition()).isEqualTo(1);
            assertThat(d.detail()).isNotBlank().doesNotContain("PAT-SECRET-42");
        });
        assertThat(Base64.getDecoder().decode(dead.get(0).originalValueBase64())).isEqualTo(malformed);
        assertThat(dead.get(0).key()).isEqualTo("m");
    }

    @Test
    void claimChecksOutsideTheAllowListBecomeExactlyOneDeadLetterEachNamingNoPathOrHost() throws Exception {
        Path outside = Files.createDirectories(dir.resolve("PAT-SECRET-42-outside"));
        Path secret = DicomWriter.of(SyntheticChestXray.negative(4, 64).gray16()).write(outside.resolve("study.dcm"));
        Files.createSymbolicLink(dir.resolve("images/escape.dcm"), secret);
        List<String> uris = List.of(
                "file:///etc/passwd",
                secret.toUri().toString(),                                    // exists, decodable, not allowed
                dir.resolve("images/escape.dcm").toUri().toString(),          // symlink out of the root
                dir.resolve("images").toUri() + "..%2FPAT-SECRET-42-outside/study.dcm",
                "http://127.0.0.1:9404/metrics",
                "http://2130706433:9404/metrics",
                "https://pacs.internal.example/wado?patient=PAT-SECRET-42");
        double before = ScreeningMetrics.get().deadLetters.labelValues("IMAGE_SOURCE_NOT_ALLOWED").get();
        for (int i = 0; i < uris.size(); i++) {
            send("r" + i, event("r" + i, ImageReference.at(ImageReference.DICOM, uris.get(i))));
        }

        assertThat(harness.extractOutputValues()).isEmpty();
        List<DeadLetter> dead = harness.getSideOutput(StudyIntake.DEAD_LETTERS).stream().map(r -> r.getValue()).toList();
        assertThat(dead).hasSize(uris.size());
        assertThat(dead).extracting(DeadLetter::offset).containsExactly(0L, 1L, 2L, 3L, 4L, 5L, 6L);
        assertThat(dead).allSatisfy(d -> {
            assertThat(d.reason()).as(d.detail()).isEqualTo(DeadLetterReason.IMAGE_SOURCE_NOT_ALLOWED);
            assertThat(d.detail()).isNotBlank().doesNotContain("PAT-SECRET-42", "passwd", "/etc", dir.toString(),
                    "escape", "study.dcm", "fileserver", "127.0.0.1", "2130706433", "9404", "pacs", "internal");
        });
        assertThat(ScreeningMetrics.get().deadLetters.labelValues("IMAGE_SOURCE_NOT_ALLOWED").get() - before)
                .isEqualTo(uris.size());

        // a file: URI naming a host is already refused by the event codec, also without naming it
        send("h", event("h", ImageReference.at(ImageReference.DICOM, "file://fileserver.internal" + secret.toUri().getRawPath())));
        List<DeadLetter> all = harness.getSideOutput(StudyIntake.DEAD_LETTERS).stream().map(r -> r.getValue()).toList();
        assertThat(all).hasSize(uris.size() + 1);
        DeadLetter host = all.get(all.size() - 1);
        assertThat(host.reason()).isEqualTo(DeadLetterReason.INVALID_FIELD);
        assertThat(host.detail()).doesNotContain("fileserver", "internal", dir.toString(), "PAT-SECRET-42");
    }
}
