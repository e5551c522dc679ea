package org.xrayscreening.connectors.event;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.stream.Stream;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.xrayscreening.connectors.image.ImageLimits;

class EventCodecTest {

    static final String PATIENT = "PAT-9f3c-SECRET";
    static final Instant ACQUIRED = Instant.parse("2020-04-01T10:15:30.123Z");
    static final byte[] IMAGE = {(byte) 0x89, 'P', 'N', 'G', 1, 2, 3, 4, 5};

    final EventCodec codec = new EventCodec();
    final ObjectMapper plain = new ObjectMapper();

    static XrayAcquired acquired() {
        return new XrayAcquired(1, "study-1", PATIENT, ACQUIRED, "PA", "pacs-1",
                ImageReference.inline(ImageReference.PNG, IMAGE));
    }

    static Recommendation recommendation(Decision decision) {
        return new Recommendation(1, "study-1", PATIENT, decision, 0.71, 0.5, 0.4, 0.6,
                List.of(new ModelScore("mobilenet", "3", 0.8, 41.5), new ModelScore("resnet50", "7", 0.62, 120.0)),
                List.of("inceptionv3", "xception"), ACQUIRED, ACQUIRED.plusMillis(1500), 1500, "2 of 4 models missing");
    }

    // ------------------------------------------------------------------------------------ round trips

    @Test
    void acquiredRoundTripsThroughValidatingParser() throws Exception {
        XrayAcquired a = acquired();
        assertThat(codec.parseAcquired(codec.toJson(a))).isEqualTo(a);
        assertThat(codec.fromJson(codec.toJson(a), XrayAcquired.class)).isEqualTo(a);
        XrayAcquired byUri = new XrayAcquired(1, "s-2", null, ACQUIRED, null, null,
                ImageReference.at(ImageReference.DICOM, "https://pacs.example/wado?id=1"));
        assertThat(codec.parseAcquired(codec.toJson(byUri))).isEqualTo(byUri);
    }

    @Test
    void labelledRoundTrips() throws Exception {
        XrayLabelled l = new XrayLabelled(1, "study-9", PATIENT, ACQUIRED, "AP", "ward-3",
                ImageReference.at(ImageReference.JPEG, "file:///data/x.jpg"), XrayLabelled.COVID,
                XrayLabelled.PCR, ACQUIRED.plusSeconds(86_400));
        assertThat(codec.parseLabelled(codec.toJson(l))).isEqualTo(l);
        assertThat(codec.fromJson(codec.toJson(l), XrayLabelled.class)).isEqualTo(l);
        assertThat(l.hasCovidLabel()).isTrue();
    }

    @Test
    void outputRecordsRoundTrip() {
        for (Decision d : Decision.values()) {
            Recommendation r = recommendation(d);
            assertThat(codec.fromJson(codec.toJson(r), Recommendation.class)).isEqualTo(r);
        }
        ModelScore s = new ModelScore("xception", "12", 0.25, 300.25);
        assertThat(codec.fromJson(codec.toJson(s), ModelScore.class)).isEqualTo(s);
        assertThat(new String(codec.toJson(s), StandardCharsets.UTF_8)).doesNotContain("threshold"); // optional: absent, not null
        ModelScore withThreshold = new ModelScore("xception", "12", 0.25, 300.25, 0.23);
        assertThat(codec.fromJson(codec.toJson(withThreshold), ModelScore.class)).isEqualTo(withThreshold);
        // an event written before the field existed still reads
        assertThat(codec.fromJson(("{\"model\":\"xception\",\"version\":\"12\",\"probability\":0.25,"
                + "\"inferenceMillis\":1.0}").getBytes(StandardCharsets.UTF_8), ModelScore.class).threshold()).isNull();
        List<Alert> alerts = List.of(
                Alert.clinical(recommendation(Decision.COVID_SUSPECTED)),
                Alert.clinical(recommendation(Decision.INDETERMINATE), ACQUIRED),
                Alert.sensitivityBelowFloor("resnet50", "7", 0.81, 0.9, ACQUIRED),
                Alert.modelUpdateFailed("mobilenet", "4", "checksum mismatch", ACQUIRED));
        for (Alert a : alerts) {
            assertThat(codec.fromJson(codec.toJson(a), Alert.class)).isEqualTo(a);
        }
        DeadLetter dl = DeadLetter.of(DeadLetterReason.MISSING_FIELD, "studyId is missing", "xray.acquired", 1, 42,
                "k".getBytes(StandardCharsets.UTF_8), "{\"x\":1}".getBytes(StandardCharsets.UTF_8), ACQUIRED);
        DeadLetter back = codec.fromJson(codec.toJson(dl), DeadLetter.class);
        assertThat(back).isEqualTo(dl);
        assertThat(new String(back.originalValue(), StandardCharsets.UTF_8)).isEqualTo("{\"x\":1}");
    }

    @Test
    void heatmapFieldsAreOptionalBothWays() throws Exception {
        Alert plainAlert = Alert.clinical(recommendation(Decision.COVID_SUSPECTED), ACQUIRED);
        Alert withHeatmap = plainAlert.withHeatmap("file:///heatmaps/s-1/mobilenet-3.overlay.png");
        Alert missing = plainAlert.withHeatmapMissing("no image held for the study");
        for (Alert a : List.of(withHeatmap, missing)) {
            assertThat(codec.fromJson(codec.toJson(a), Alert.class)).isEqualTo(a);
        }
        JsonNode json = plain.readTree(codec.toJson(withHeatmap));
        assertThat(json.get("heatmapUri").textValue()).isEqualTo("file:///heatmaps/s-1/mobilenet-3.overlay.png");
        assertThat(json.has("heatmapMissing")).isFalse();
        assertThat(plain.readTree(codec.toJson(plainAlert)).has("heatmapUri")).as("absent when not set").isFalse();

        // an alert written before the field existed reads with both null; a reader ignoring unknown fields (as this
        // codec and every reader of schema 1 does) reads a new alert as the old one
        com.fasterxml.jackson.databind.node.ObjectNode old = (com.fasterxml.jackson.databind.node.ObjectNode) json;
        old.remove("heatmapUri");
        Alert read = codec.fromJson(plain.writeValueAsBytes(old), Alert.class);
        assertThat(read).isEqualTo(plainAlert);
        assertThat(read.heatmapUri()).isNull();
        assertThat(read.heatmapMissing()).isNull();
    }

    @Test
    void jsonShape() throws Exception {
        JsonNode r = plain.readTree(codec.toJson(recommendation(Decision.INDETERMINATE)));
        assertThat(r.get("schemaVersion").intValue()).isEqualTo(1);
        assertThat(r.get("acquiredAt").textValue()).isEqualTo("2020-04-01T10:15:30.123Z");
        assertThat(r.get("decision").textValue()).isEqualTo("INDETERMINATE");
        assertThat(r.get("patientRef").textValue()).isEqualTo(PATIENT);
        assertThat(r.get("modelScores").get(0).get("version").textValue()).isEqualTo("3");
        JsonNode a = plain.readTree(codec.toJson(Alert.modelUpdateFailed("m", "v", "x", ACQUIRED)));
        assertThat(a.has("studyId")).as("null fields are left out").isFalse();
        assertThat(a.get("type").textValue()).isEqualTo("MODEL_UPDATE_FAILED");
        JsonNode img = plain.readTree(codec.toJson(acquired())).get("image");
        assertThat(img.has("uri")).isFalse();
        assertThat(img.has("inlineData")).as("helper methods are not properties").isFalse();
        assertThat(plain.readTree(codec.toJson(acquired())).fieldNames()).toIterable()
                .containsExactlyInAnyOrder("schemaVersion", "studyId", "patientRef", "acquiredAt", "view", "source",
                        "image");
    }

    @Test
    void alertFactories() {
        assertThat(Alert.forRecommendation(recommendation(Decision.NO_COVID_FINDINGS), ACQUIRED)).isEmpty();
        Alert a = Alert.forRecommendation(recommendation(Decision.COVID_SUSPECTED), ACQUIRED).orElseThrow();
        assertThat(a.type()).isEqualTo(AlertType.CLINICAL_COVID_SUSPECTED);
        assertThat(a.patientRef()).isEqualTo(PATIENT);
        assertThat(a.probability()).isEqualTo(0.71);
        assertThat(a.model()).isNull();
        assertThat(Alert.clinical(recommendation(Decision.INDETERMINATE)).type())
                .isEqualTo(AlertType.CLINICAL_INDETERMINATE);
        assertThatThrownBy(() -> Alert.clinical(recommendation(Decision.NO_COVID_FINDINGS)))
                .isInstanceOf(IllegalArgumentException.class);
        assertThat(a.toString()).doesNotContain(PATIENT);
        assertThat(recommendation(Decision.COVID_SUSPECTED).toString()).doesNotContain(PATIENT);
        assertThat(acquired().toString()).doesNotContain(PATIENT).doesNotContain(acquired().image().data());
    }

    @Test
    void unknownFieldsIgnoredAndValuesNormalized() throws Exception {
        ObjectNode n = valid();
        n.put("futureField", "x");
        ((ObjectNode) n.get("image")).put("contentType", "Image/JPG; q=1");
        ((ObjectNode) n.get("image")).put("compression", "none");
        n.put("acquiredAt", "2020-04-01T12:15:30.123+02:00");
        XrayAcquired a = codec.parseAcquired(bytes(n));
        assertThat(a.image().contentType()).isEqualTo(ImageReference.JPEG);
        assertThat(a.acquiredAt()).isEqualTo(ACQUIRED);
        assertThat(a.patientRef()).isEqualTo(PATIENT);
    }

    @Test
    void labelledValidation() throws Exception {
        ObjectNode n = valid();
        n.put("label", "COVID");
        n.put("labelSource", "radiologist");
        XrayLabelled l = codec.parseLabelled(bytes(n));
        assertThat(l.label()).isEqualTo("covid");
        assertThat(l.labelSource()).isEqualTo("RADIOLOGIST");
        assertThat(l.confirmedAt()).isNull();

        assertReason(() -> codec.parseLabelled(bytes(valid().put("labelSource", "PCR"))),
                DeadLetterReason.MISSING_FIELD, "label");
        assertReason(() -> codec.parseLabelled(bytes(valid().put("label", "flu").put("labelSource", "PCR"))),
                DeadLetterReason.INVALID_FIELD, "label");
        assertReason(() -> codec.parseLabelled(bytes(valid().put("label", "covid").put("labelSource", "guess"))),
                DeadLetterReason.INVALID_FIELD, "labelSource");
        assertReason(() -> codec.parseLabelled(bytes(valid().put("label", "covid").put("labelSource", "PCR")
                .put("confirmedAt", "yesterday"))), DeadLetterReason.INVALID_FIELD, "confirmedAt");
    }

    // ------------------------------------------------------------------------------ invalid inputs

    /** A valid acquired event as a mutable tree; every case below breaks one thing. */
    static ObjectNode valid() {
        ObjectNode n = new ObjectMapper().createObjectNode();
        n.put("schemaVersion", 1);
        n.put("studyId", "study-1");
        n.put("patientRef", PATIENT);
        n.put("acquiredAt", "2020-04-01T10:15:30.123Z");
        n.put("view", "PA");
        ObjectNode img = n.putObject("image");
        img.put("contentType", "image/png");
        img.put("data", Base64.getEncoder().encodeToString(IMAGE));
        return n;
    }

    static ObjectNode image(ObjectNode n) {
        return (ObjectNode) n.get("image");
    }

    static byte[] bytes(Object o) {
        return o.toString().getBytes(StandardCharsets.UTF_8);
    }

    static Stream<Arguments> invalid() {
        String secret = PATIENT;
        return Stream.of(
                Arguments.of("not json", bytes("{\"patientRef\":\"" + secret + "\", studyId: x}"),
                        DeadLetterReason.MALFORMED_JSON, "line 1"),
                Arguments.of("truncated", bytes("{\"patientRef\":\"" + secret + "\",\"studyId\":\"a"),
                        DeadLetterReason.MALFORMED_JSON, "end of input"),
                Arguments.of("bad token", bytes("{\"patientRef\":" + secret + "}"), DeadLetterReason.MALFORMED_JSON,
                        "malformed"),
                Arguments.of("empty", new byte[0], DeadLetterReason.MALFORMED_JSON, "empty"),
                Arguments.of("array", bytes("[\"" + secret + "\"]"), DeadLetterReason.MALFORMED_JSON, "array"),
                Arguments.of("not utf8", new byte[] {'{', '"', (byte) 0xC3, (byte) 0x28, '"', ':', '1', '}'},
                        DeadLetterReason.MALFORMED_JSON, ""),
                Arguments.of("no schemaVersion", bytes(valid().without("schemaVersion")),
                        DeadLetterReason.MISSING_FIELD, "schemaVersion"),
                Arguments.of("schemaVersion 2", bytes(valid().put("schemaVersion", 2)),
                        DeadLetterReason.UNSUPPORTED_SCHEMA_VERSION, "2"),
                Arguments.of("schemaVersion 0", bytes(valid().put("schemaVersion", 0)),
                        DeadLetterReason.UNSUPPORTED_SCHEMA_VERSION, "0"),
                Arguments.of("schemaVersion huge", bytes(valid().put("schemaVersion", Long.MAX_VALUE)),
                        DeadLetterReason.UNSUPPORTED_SCHEMA_VERSION, "schemaVersion"),
                Arguments.of("schemaVersion text", bytes(valid().put("schemaVersion", "1")),
                        DeadLetterReason.INVALID_FIELD, "schemaVersion"),
                Arguments.of("no studyId", bytes(valid().without("studyId")), DeadLetterReason.MISSING_FIELD,
                        "studyId"),
                Arguments.of("null studyId", bytes(valid().putNull("studyId")), DeadLetterReason.MISSING_FIELD,
                        "studyId"),
                Arguments.of("blank studyId", bytes(valid().put("studyId", "  ")), DeadLetterReason.MISSING_FIELD,
                        "studyId"),
                Arguments.of("numeric studyId", bytes(valid().put("studyId", 7)), DeadLetterReason.INVALID_FIELD,
                        "studyId"),
                Arguments.of("long studyId", bytes(valid().put("studyId", "x".repeat(257))),
                        DeadLetterReason.INVALID_FIELD, "studyId"),
                Arguments.of("no acquiredAt", bytes(valid().without("acquiredAt")), DeadLetterReason.MISSING_FIELD,
                        "acquiredAt"),
                Arguments.of("bad acquiredAt", bytes(valid().put("acquiredAt", "2020-13-45T99:00:00Z")),
                        DeadLetterReason.INVALID_FIELD, "acquiredAt"),
                Arguments.of("local acquiredAt", bytes(valid().put("acquiredAt", "2020-04-01T10:15:30")),
                        DeadLetterReason.INVALID_FIELD, "acquiredAt"),
                Arguments.of("epoch acquiredAt", bytes(valid().put("acquiredAt", 1585736130)),
                        DeadLetterReason.INVALID_FIELD, "acquiredAt"),
                Arguments.of("patientRef number", bytes(valid().put("patientRef", 123)),
                        DeadLetterReason.INVALID_FIELD, "patientRef"),
                Arguments.of("no image", bytes(valid().without("image")), DeadLetterReason.MISSING_FIELD, "image"),
                Arguments.of("image string", bytes(valid().put("image", secret)), DeadLetterReason.INVALID_FIELD,
                        "image"),
                Arguments.of("no contentType", bytes(with(valid(), n -> image(n).remove("contentType"))),
                        DeadLetterReason.MISSING_FIELD, "image.contentType"),
                Arguments.of("gif", bytes(with(valid(), n -> image(n).put("contentType", "image/gif"))),
                        DeadLetterReason.UNKNOWN_CONTENT_TYPE, "image/gif"),
                Arguments.of("contentType holding the patient ref",
                        bytes(with(valid(), n -> image(n).put("contentType", "image/" + secret))),
                        DeadLetterReason.UNKNOWN_CONTENT_TYPE, "contentType"),
                Arguments.of("both data and uri",
                        bytes(with(valid(), n -> image(n).put("uri", "file:///x.png"))),
                        DeadLetterReason.INVALID_FIELD, "both"),
                Arguments.of("neither data nor uri", bytes(with(valid(), n -> image(n).remove("data"))),
                        DeadLetterReason.INVALID_FIELD, "neither"),
                Arguments.of("bad base64", bytes(with(valid(), n -> image(n).put("data", "!!" + secret + "$$"))),
                        DeadLetterReason.INVALID_FIELD, "base64"),
                Arguments.of("bad base64 length", bytes(with(valid(), n -> image(n).put("data", "QUJDR"))),
                        DeadLetterReason.INVALID_FIELD, "base64"),
                Arguments.of("empty data", bytes(with(valid(), n -> image(n).put("data", ""))),
                        DeadLetterReason.INVALID_FIELD, "empty"),
                Arguments.of("ftp uri", bytes(with(valid(), n -> {
                    image(n).remove("data");
                    image(n).put("uri", "ftp://host/" + secret + ".png");
                })), DeadLetterReason.INVALID_FIELD, "scheme"),
                Arguments.of("relative uri", bytes(with(valid(), n -> {
                    image(n).remove("data");
                    image(n).put("uri", "images/" + secret + ".png");
                })), DeadLetterReason.INVALID_FIELD, "scheme"),
                Arguments.of("unparsable uri", bytes(with(valid(), n -> {
                    image(n).remove("data");
                    image(n).put("uri", "http://host/a b|" + secret);
                })), DeadLetterReason.INVALID_FIELD, "image.uri"),
                Arguments.of("http without host", bytes(with(valid(), n -> {
                    image(n).remove("data");
                    image(n).put("uri", "http:/" + secret);
                })), DeadLetterReason.INVALID_FIELD, "host"),
                Arguments.of("remote file uri", bytes(with(valid(), n -> {
                    image(n).remove("data");
                    image(n).put("uri", "file://server/" + secret + ".dcm");
                })), DeadLetterReason.INVALID_FIELD, "local"),
                Arguments.of("opaque file uri", bytes(with(valid(), n -> {
                    image(n).remove("data");
                    image(n).put("uri", "file:" + secret + ".dcm");
                })), DeadLetterReason.INVALID_FIELD, "absolute"));
    }

    interface Edit {
        void apply(ObjectNode n);
    }

    static ObjectNode with(ObjectNode n, Edit edit) {
        edit.apply(n);
        return n;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("invalid")
    void invalidInputMapsToReason(String name, byte[] json, DeadLetterReason reason, String detailPart) {
        InvalidEventException e = catchThrowableOfType(InvalidEventException.class,
                () -> codec.parseAcquired(json));
        assertThat(e).as(name).isNotNull();
        assertThat(e.reason()).as(name + ": " + e.detail()).isEqualTo(reason);
        assertThat(e.detail()).contains(detailPart);
        assertThat(e.detail()).doesNotContain(PATIENT);
        assertThat(e.getMessage()).doesNotContain(PATIENT);
        // the same checks apply to labelled events
        InvalidEventException l = catchThrowableOfType(InvalidEventException.class,
                () -> codec.parseLabelled(json));
        assertThat(l.reason()).isEqualTo(reason);
        assertThat(l.detail()).doesNotContain(PATIENT);
    }

    @Test
    void inlineDataOverTheLimitIsRefusedBeforeDecoding() {
        EventCodec small = new EventCodec(new ImageLimits(1000, 1_000_000, 1000));
        ObjectNode ok = with(valid(), n -> image(n).put("data", Base64.getEncoder().encodeToString(new byte[1000])));
        assertThat(catchThrowableOfType(InvalidEventException.class, () -> small.parseAcquired(bytes(ok)))).isNull();
        ObjectNode big = with(valid(), n -> image(n).put("data", Base64.getEncoder().encodeToString(new byte[1001])));
        assertReason(() -> small.parseAcquired(bytes(big)), DeadLetterReason.IMAGE_TOO_LARGE, "1001");
        // too large wins over invalid: the size is known without decoding
        ObjectNode bigInvalid = with(valid(), n -> image(n).put("data", "*".repeat(4000)));
        assertReason(() -> small.parseAcquired(bytes(bigInvalid)), DeadLetterReason.IMAGE_TOO_LARGE, "limit");
    }

    @Test
    void largeInlineImagesParse() throws Exception {
        byte[] big = new byte[24 << 20]; // base64 of it is longer than Jackson's default string limit
        ObjectNode n = with(valid(), x -> image(x).put("data", Base64.getEncoder().encodeToString(big)));
        assertThat(codec.parseAcquired(bytes(n)).image().inlineDataSize()).isEqualTo(big.length);
    }

    @Test
    void inlineDataSizeMatchesDecoder() {
        for (int len = 0; len < 20; len++) {
            byte[] b = new byte[len];
            String padded = Base64.getEncoder().encodeToString(b);
            String unpadded = Base64.getEncoder().withoutPadding().encodeToString(b);
            assertThat(new ImageReference("image/png", padded, null).inlineDataSize()).isEqualTo(len);
            assertThat(new ImageReference("image/png", unpadded, null).inlineDataSize()).isEqualTo(len);
        }
    }

    @Test
    void fromJsonFailureHidesInput() {
        byte[] json = bytes("{\"patientRef\":\"" + PATIENT + "\",\"decision\":\"" + PATIENT + "\"}");
        assertThatThrownBy(() -> codec.fromJson(json, Recommendation.class))
                .isInstanceOf(IllegalArgumentException.class)
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain(PATIENT));
    }

    @Test
    void codecIsSerializable() throws Exception {
        var bos = new java.io.ByteArrayOutputStream();
        try (var out = new java.io.ObjectOutputStream(bos)) {
            out.writeObject(new EventCodec(new ImageLimits(5, 6, 7)));
        }
        try (var in = new java.io.ObjectInputStream(new java.io.ByteArrayInputStream(bos.toByteArray()))) {
            EventCodec c = (EventCodec) in.readObject();
            assertThat(c.limits()).isEqualTo(new ImageLimits(5, 6, 7));
            assertThat(c.parseAcquired(codec.toJson(acquired()).clone()).studyId()).isEqualTo("study-1");
        } catch (InvalidEventException e) {
            assertThat(e.reason()).isEqualTo(DeadLetterReason.IMAGE_TOO_LARGE); // 9 bytes > 5
        }
    }

    interface Call {
        void run() throws Exception;
    }

    static void assertReason(Call call, DeadLetterReason reason, String detailPart) {
        InvalidEventException e = catchThrowableOfType(InvalidEventException.class, call::run);
        assertThat(e).isNotNull();
        assertThat(e.reason()).as(e.detail()).isEqualTo(reason);
        assertThat(e.detail()).contains(detailPart).doesNotContain(PATIENT);
    }
}
