package org.xrayscreening.stream.ensemble;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xrayscreening.models.Architecture;
import org.xrayscreening.models.registry.EnsembleRegistry;
import org.xrayscreening.models.registry.EnsembleSettings;
import org.xrayscreening.models.registry.ModelMetadata;
import org.xrayscreening.models.registry.ModelRegistry;
import org.xrayscreening.stream.JobSettings;
import org.xrayscreening.stream.ModelSpec;
import org.xrayscreening.stream.ScreeningJob;

class EnsembleSettingsChoiceTest {
    private static final List<ModelSpec> SPECS = List.of(ModelSpec.parse("mobilenet@production"),
            ModelSpec.parse("resnet50@production"));

    @TempDir
    Path registry;

    private EnsembleSettings publish(String version, Instant at) throws Exception {
        return new EnsembleRegistry(registry).publish(
                EnsembleDeciderTest.calibratedMean().withVersion(null, at), version);
    }

    @Test
    void noneLatestAndAVersion() throws Exception {
        // an empty registry: latest means the flag policy, a named version is an error
        assertThat(EnsembleSettingsChoice.resolve("latest", registry, SPECS)).isNull();
        assertThatThrownBy(() -> EnsembleSettingsChoice.resolve("e1", registry, SPECS))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("--ensemble-settings e1")
                .hasMessageContaining("--ensemble-settings none");

        publish("e1", Instant.parse("2026-12-01T00:00:00Z"));
        publish("e2", Instant.parse("2026-12-02T00:00:00Z"));
        assertThat(EnsembleSettingsChoice.resolve("latest", registry, SPECS).version()).isEqualTo("e2");
        assertThat(EnsembleSettingsChoice.resolve(null, registry, SPECS).version()).isEqualTo("e2");
        assertThat(EnsembleSettingsChoice.resolve("e1", registry, SPECS).version()).isEqualTo("e1");
        assertThat(EnsembleSettingsChoice.resolve("none", registry, SPECS)).isNull();
    }

    @Test
    void tamperedSettingsStopTheJobFromStarting() throws Exception {
        publish("e1", Instant.parse("2026-12-01T00:00:00Z"));
        Path file = registry.resolve("ensemble/e1/ensemble.json");
        Files.writeString(file, Files.readString(file).replace("\"plattA\" : 0.8", "\"plattA\" : 0.9"));
        assertThatThrownBy(() -> EnsembleSettingsChoice.resolve("latest", registry, SPECS))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("sha256 mismatch");
        // the job's own command line: exit code 2 and the message, before anything is submitted
        ScreeningJob job = new ScreeningJob();
        ScreeningJob.commandLine(job, new String[0]).parseArgs("--registry", registry.toString(),
                "--models", "mobilenet@production");
        assertThatThrownBy(job.options::settings).hasMessageContaining("ensemble@e1 failed verification");
    }

    @Test
    void theJobsOptionsCarryTheSettingsIntoTheTopology() throws Exception {
        publish("e1", Instant.parse("2026-12-01T00:00:00Z"));
        ScreeningJob job = new ScreeningJob();
        ScreeningJob.commandLine(job, new String[0]).parseArgs("--registry", registry.toString());
        JobSettings settings = job.options.settings();
        assertThat(settings.ensembleSettings()).isEqualTo(new EnsembleRegistry(registry).resolve("e1"));
        ScreeningJob none = new ScreeningJob();
        ScreeningJob.commandLine(none, new String[0]).parseArgs("--registry", registry.toString(),
                "--ensemble-settings", "none");
        assertThat(none.options.settings().ensembleSettings()).isNull();
    }

    @Test
    void namesTheServedModelsTheSettingsWereNotFitFor() throws Exception {
        ModelRegistry models = new ModelRegistry(registry);
        Path staging = Files.createDirectories(registry.resolve("staging-files"));
        Files.writeString(staging.resolve("model-0000.params"), "weights");
        models.publish(Architecture.MOBILENET, "m-1", staging, ModelMetadata.builder(Architecture.MOBILENET, 64).build());
        models.setAlias(Architecture.MOBILENET, "production", "m-1");
        models.publish(Architecture.RESNET50, "r-2", staging, ModelMetadata.builder(Architecture.RESNET50, 64).build());
        models.setAlias(Architecture.RESNET50, "production", "r-2");
        EnsembleSettings settings = EnsembleDeciderTest.calibratedMean(); // fit for mobilenet@m-1, resnet50@r-1
        assertThat(EnsembleSettingsChoice.mismatches(settings, models, List.of(ModelSpec.parse("mobilenet@production"),
                ModelSpec.parse("resnet50@production"), ModelSpec.parse("xception@production"))))
                .containsExactly("resnet50@production is resnet50@r-2, settings fit for resnet50@r-1",
                        "xception is not in the settings");
    }
}
