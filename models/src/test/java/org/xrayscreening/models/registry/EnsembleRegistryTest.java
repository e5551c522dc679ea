package org.xrayscreening.models.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xrayscreening.models.registry.EnsembleSettings.Combination;
import org.xrayscreening.models.registry.EnsembleSettings.ModelCalibration;
import org.xrayscreening.models.registry.EnsembleSettings.Zone;

class EnsembleRegistryTest {
    private static final Instant T0 = Instant.parse("2026-12-03T10:00:00Z");

    @TempDir
    Path tmp;

    static EnsembleSettings stacked(Instant createdAt) {
        return new EnsembleSettings(EnsembleSettings.SCHEMA_VERSION, null, createdAt, Combination.STACKED,
                List.of(new ModelCalibration("mobilenet", "m-1", 0.8, -0.2, 1.1),
                        new ModelCalibration("resnet50", "r-7", 1.3, 0.4, 0.6)),
                -0.35, 0.21, 0.21, 0.67, 0.95, 0.95,
                Map.of("sensitivity", 0.96, "specificity", 0.81, "calibrated-mean.sensitivity", 0.95),
                "sha256:abc", "validation", "trainer fit-ensemble --model mobilenet@m-1 ...", null);
    }

    static EnsembleSettings calibratedMean(Instant createdAt) {
        return new EnsembleSettings(EnsembleSettings.SCHEMA_VERSION, null, createdAt, Combination.CALIBRATED_MEAN,
                List.of(new ModelCalibration("mobilenet", "m-1", 0.8, -0.2, null),
                        new ModelCalibration("resnet50", "r-7", 1.3, 0.4, null)),
                null, 0.3, 0.3, 0.7, 0.95, 0.95, Map.of(), "sha256:abc", "validation", "cmd", null);
    }

    @Test
    void jsonRoundTripKeepsEveryField() throws Exception {
        EnsembleSettings s = stacked(T0).withVersion("v1", T0);
        String json = s.toJson();
        assertThat(json).contains("\"combination\" : \"stacked\"").contains("\"plattA\" : 0.8");
        assertThat(EnsembleSettings.fromJson(json.getBytes(StandardCharsets.UTF_8))).isEqualTo(s);
        EnsembleSettings m = calibratedMean(T0).withVersion("v2", T0);
        assertThat(EnsembleSettings.fromJson(m.toJson().getBytes(StandardCharsets.UTF_8))).isEqualTo(m);
    }

    @Test
    void publishResolveAndLatest() throws Exception {
        EnsembleRegistry registry = new EnsembleRegistry(tmp);
        assertThat(registry.hasAny()).isFalse();
        assertThat(registry.list()).isEmpty();
        assertThatThrownBy(() -> registry.resolve("latest")).isInstanceOf(ModelNotFoundException.class);

        EnsembleSettings older = registry.publish(stacked(T0), "b-older");
        EnsembleSettings newer = registry.publish(calibratedMean(T0.plusSeconds(60)), null);
        assertThat(newer.version()).matches("\\d{8}T\\d{6}Z-[0-9a-f]{8}");
        assertThat(registry.hasAny()).isTrue();
        assertThat(registry.list()).extracting(EnsembleSettings::version).containsExactly("b-older", newer.version());
        assertThat(registry.resolve("latest")).isEqualTo(newer);
        assertThat(registry.resolve("b-older")).isEqualTo(older).isEqualTo(stacked(T0).withVersion("b-older", T0));
        assertThat(tmp.resolve("ensemble/b-older/ensemble.json")).isRegularFile();
        assertThat(Files.readString(tmp.resolve("ensemble/b-older/ensemble.json.sha256")))
                .isEqualTo(ModelRegistry.sha256(tmp.resolve("ensemble/b-older/ensemble.json")) + "  ensemble.json\n");
        assertThatThrownBy(() -> registry.publish(stacked(T0), "b-older"))
                .isInstanceOf(FileAlreadyExistsException.class).hasMessageContaining("immutable");
        assertThatThrownBy(() -> registry.resolve("nope")).isInstanceOf(ModelNotFoundException.class);
        // an abandoned publish is not a version
        Files.createDirectories(tmp.resolve("ensemble/.tmp-publish-123"));
        assertThat(registry.list()).hasSize(2);
    }

    @Test
    void aTamperedFileIsRefusedAndLatestDoesNotFallBackPastIt() throws Exception {
        EnsembleRegistry registry = new EnsembleRegistry(tmp);
        registry.publish(stacked(T0), "v1");
        registry.publish(stacked(T0.plusSeconds(1)), "v2");
        Path file = tmp.resolve("ensemble/v2/ensemble.json");
        // someone widens the band by hand
        Files.writeString(file, Files.readString(file).replace("\"indeterminateHigh\" : 0.67",
                "\"indeterminateHigh\" : 0.97"));
        assertThat(Files.readString(file)).contains("0.97");
        assertThatThrownBy(() -> registry.resolve("v2")).isInstanceOf(ModelIntegrityException.class)
                .hasMessageContaining("ensemble@v2").hasMessageContaining("sha256 mismatch for ensemble.json");
        assertThatThrownBy(() -> registry.resolve("latest")).isInstanceOf(ModelIntegrityException.class);
        assertThat(registry.resolve("v1").version()).isEqualTo("v1");

        Files.delete(tmp.resolve("ensemble/v1/ensemble.json.sha256"));
        assertThatThrownBy(() -> registry.resolve("v1")).isInstanceOf(ModelIntegrityException.class)
                .hasMessageContaining("ensemble.json.sha256 is missing");
    }

    @Test
    void inconsistentSettingsAreRefused() {
        assertThatThrownBy(() -> new EnsembleSettings(1, null, T0, Combination.STACKED,
                List.of(new ModelCalibration("mobilenet", "m-1", 1, 0, null)), 0.0, 0.3, 0.3, 0.7, 0.95, 0.95,
                null, null, null, null, null)).hasMessageContaining("need a weight for mobilenet");
        assertThatThrownBy(() -> new EnsembleSettings(1, null, T0, Combination.CALIBRATED_MEAN,
                List.of(new ModelCalibration("mobilenet", "m-1", 1, 0, null)), null, 0.8, 0.3, 0.7, 0.95, 0.95,
                null, null, null, null, null)).hasMessageContaining("indeterminateLow <= threshold");
        assertThatThrownBy(() -> new ModelCalibration("alexnet", "v", 1, 0, null))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new EnsembleSettings(2, null, T0, Combination.CALIBRATED_MEAN,
                List.of(new ModelCalibration("mobilenet", "m-1", 1, 0, null)), null, 0.3, 0.3, 0.7, 0.95, 0.95,
                null, null, null, null, null)).hasMessageContaining("schema version 2");
    }

    @Test
    void combinationsByHand() {
        EnsembleSettings mean = calibratedMean(T0);
        // mobilenet: sigmoid(0.8 * logit(0.9) - 0.2); resnet50: sigmoid(1.3 * logit(0.2) + 0.4)
        double m = 1 / (1 + Math.exp(-(0.8 * Math.log(0.9 / 0.1) - 0.2)));
        double r = 1 / (1 + Math.exp(-(1.3 * Math.log(0.2 / 0.8) + 0.4)));
        assertThat(mean.probability(Map.of("mobilenet", 0.9, "resnet50", 0.2))).isCloseTo((m + r) / 2, within(1e-12));
        assertThat(mean.probability(Map.of("mobilenet", 0.9))).isCloseTo(m, within(1e-12));

        EnsembleSettings stack = stacked(T0);
        double z = -0.35 + 1.1 * Math.log(0.9 / 0.1) + 0.6 * Math.log(0.2 / 0.8);
        assertThat(stack.probability(Map.of("mobilenet", 0.9, "resnet50", 0.2)))
                .isCloseTo(1 / (1 + Math.exp(-z)), within(1e-12));
        assertThatThrownBy(() -> stack.probability(Map.of("mobilenet", 0.9))).hasMessageContaining("resnet50");
        // probabilities of exactly 0 or 1 are clamped, not infinite
        assertThat(stack.probability(Map.of("mobilenet", 1.0, "resnet50", 0.0))).isBetween(0.0, 1.0);
    }

    @Test
    void applicabilityNamesTheMismatch() {
        EnsembleSettings stack = stacked(T0);
        assertThat(stack.inapplicability(Map.of("mobilenet", "m-1", "resnet50", "r-7"))).isEmpty();
        assertThat(stack.inapplicability(Map.of("mobilenet", "m-2", "resnet50", "r-7")))
                .hasValue("mobilenet@m-2 scored, settings fit for mobilenet@m-1");
        assertThat(stack.inapplicability(Map.of("mobilenet", "m-1"))).get().asString().contains("missing resnet50");
        assertThat(stack.inapplicability(Map.of("mobilenet", "m-1", "resnet50", "r-7", "xception", "x")))
                .get().asString().contains("xception is not in the settings");
        EnsembleSettings mean = calibratedMean(T0);
        assertThat(mean.inapplicability(Map.of("resnet50", "r-7"))).isEmpty(); // a mean works with fewer models
    }

    @Test
    void bandEdges() {
        EnsembleSettings s = calibratedMean(T0); // band [0.3, 0.7)
        assertThat(s.zone(0.3)).isEqualTo(Zone.BAND);
        assertThat(s.zone(Math.nextDown(0.3f))).isEqualTo(Zone.BELOW);
        assertThat(s.zone(0.0)).isEqualTo(Zone.BELOW);
        assertThat(s.zone(0.69999)).isEqualTo(Zone.BAND);
        assertThat(s.zone(0.7)).isEqualTo(Zone.ABOVE);
        assertThat(s.zone(1.0)).isEqualTo(Zone.ABOVE);
        // compared as floats, as the band was chosen: a double a hair below the float edge is still on it
        assertThat(s.zone((double) 0.3f - 1e-12)).isEqualTo(Zone.BAND);
        EnsembleSettings noBand = new EnsembleSettings(1, null, T0, Combination.CALIBRATED_MEAN,
                List.of(new ModelCalibration("mobilenet", "m-1", 1, 0, null)), null, 0.4, 0.4, 0.4, 0.95, 0.95,
                null, null, null, null, null);
        assertThat(noBand.zone(0.4)).isEqualTo(Zone.ABOVE);
        assertThat(noBand.zone(0.39)).isEqualTo(Zone.BELOW);
    }
}
