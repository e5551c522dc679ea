package org.xrayscreening.trainer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Model;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xrayscreening.models.Architecture;
import org.xrayscreening.models.inference.CovidClassifier;
import org.xrayscreening.models.inference.ModelExport;
import org.xrayscreening.models.registry.EnsembleRegistry;
import org.xrayscreening.models.registry.EnsembleSettings;
import org.xrayscreening.models.registry.EnsembleSettings.Combination;
import org.xrayscreening.models.registry.ModelMetadata;
import org.xrayscreening.models.registry.ModelRegistry;
import org.xrayscreening.models.registry.ModelVersion;
import org.xrayscreening.trainer.SyntheticData;
import org.xrayscreening.trainer.TrainerCli;
import org.xrayscreening.trainer.dataset.Dataset;
import org.xrayscreening.trainer.dataset.DatasetSplit;
import org.xrayscreening.trainer.dataset.PreparedImages;
import org.xrayscreening.trainer.dataset.Split;
import org.xrayscreening.trainer.dataset.SplitSpec;
import org.xrayscreening.trainer.evaluation.EnsembleFitting;
import org.xrayscreening.trainer.evaluation.EnsembleFitting.ModelValidationScores;

/**
 * {@code fit-ensemble} and {@code evaluate --ensemble-settings} through the CLI, on synthetic images and two
 * untrained networks at 64 px (real inference, no training time): the published settings must be what fitting the
 * validation scores, computed here independently of the command, gives.
 */
class FitEnsembleCommandTest {

    @Test
    void fitsOnValidationPublishesAndEvaluatesOnTest(@TempDir Path tmp) throws Exception {
        Path data = SyntheticData.write(tmp.resolve("data"), 24, 30, 64);
        Path registry = tmp.resolve("registry");
        Path runs = tmp.resolve("runs");
        ModelRegistry reg = new ModelRegistry(registry);
        ModelVersion mobilenet = publishUntrained(reg, Architecture.MOBILENET, tmp);
        ModelVersion resnet = publishUntrained(reg, Architecture.RESNET50, tmp);
        Path cache = runs.resolve(".score-cache");

        // independently: each model's validation scores, fit as the command should
        DatasetSplit split = DatasetSplit.of(Dataset.load(data), SplitSpec.paper(42));
        List<ModelValidationScores> scores = new ArrayList<>();
        boolean[] positive = null;
        for (ModelVersion v : List.of(mobilenet, resnet)) {
            try (CovidClassifier c = CovidClassifier.load(reg, v)) {
                PreparedImages validation = PreparedImages.load(split.get(Split.VALIDATION), c.preprocessor());
                scores.add(new ModelValidationScores(v.architecture().id(), v.version(),
                        c.predictPreprocessed(validation.inputs())));
                positive = new boolean[validation.size()];
                for (int i = 0; i < positive.length; i++) {
                    positive[i] = validation.entry(i).label().isCovid();
                }
            }
        }
        EnsembleSettings expected = EnsembleFitting.fit(scores, positive, Combination.STACKED, 0.95, 0.95,
                split.digest(), "ignored").chosen();

        assertThat(TrainerCli.run("fit-ensemble", "--model", mobilenet.toString(), "--model", resnet.toString(),
                "--data", data.toString(), "--split", "test", "--publish", registry.toString())).isEqualTo(2);
        assertThat(TrainerCli.run("fit-ensemble", "--model", mobilenet.toString(), "--model", resnet.toString(),
                "--data", data.toString(), "--combination", "median", "--publish", registry.toString())).isEqualTo(2);
        assertThat(TrainerCli.run("fit-ensemble", "--model", mobilenet.toString(), "--model", resnet.toString(),
                "--data", data.toString(), "--split", "validation", "--combination", "stacked",
                "--target-sensitivity", "0.95", "--publish", registry.toString(), "--version", "e1",
                "--score-cache", cache.toString(), "--threads", "2")).isZero();

        EnsembleSettings published = new EnsembleRegistry(registry).resolve("latest");
        assertThat(published.version()).isEqualTo("e1");
        assertThat(published.command()).startsWith("trainer fit-ensemble");
        assertThat(published.models()).isEqualTo(expected.models());
        assertThat(published.stackedBias()).isEqualTo(expected.stackedBias());
        assertThat(published.indeterminateLow()).isEqualTo(expected.indeterminateLow());
        assertThat(published.indeterminateHigh()).isEqualTo(expected.indeterminateHigh());
        assertThat(published.validationMetrics()).isEqualTo(expected.validationMetrics());
        assertThat(published.validationMetrics().get("sensitivity")).isGreaterThanOrEqualTo(0.95);
        assertThat(published.dataDigest()).isEqualTo(split.digest());
        // a second fit reads the scores from the cache and may not reuse the version name
        assertThat(TrainerCli.run("fit-ensemble", "--model", mobilenet.toString(), "--model", resnet.toString(),
                "--data", data.toString(), "--publish", registry.toString(), "--version", "e1",
                "--score-cache", cache.toString())).isEqualTo(2);

        // the test split, through evaluate: the evaluated models must be the versions the settings were fit for
        assertThat(TrainerCli.run("evaluate", "--model", mobilenet.toString(), "--registry", registry.toString(),
                "--data", data.toString(), "--ensemble-settings", "e1", "--bootstrap", "0", "--runs", runs.toString(),
                "--score-cache", "none")).isEqualTo(2);
        assertThat(TrainerCli.run("evaluate", "--model", mobilenet.toString(), "--model", resnet.toString(),
                "--registry", registry.toString(), "--data", data.toString(), "--ensemble-settings", "e1",
                "--bootstrap", "20", "--runs", runs.toString(), "--name", "published", "--score-cache", "none")).isZero();
        Path run;
        try (Stream<Path> s = Files.list(runs)) {
            run = s.filter(p -> p.getFileName().toString().endsWith("-published")).findFirst().orElseThrow();
        }
        String report = Files.readString(run.resolve("report.md"));
        assertThat(report).contains("## Published ensemble settings e1").contains("| test | " + split.get(Split.TEST)
                .size() + " |").contains("| validation (at fit) |").contains("ensemble@e1 (stacked)");
    }

    private static ModelVersion publishUntrained(ModelRegistry registry, Architecture architecture, Path tmp)
            throws Exception {
        Path staging = Files.createTempDirectory(tmp, "staging-");
        try (Model model = ModelExport.newModel(architecture, 64)) {
            ModelExport.save(model, staging);
        }
        return registry.publish(architecture, null, staging,
                ModelMetadata.builder(architecture, 64).command("test fixture").notes("untrained").build());
    }
}
