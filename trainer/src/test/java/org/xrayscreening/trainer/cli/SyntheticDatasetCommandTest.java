package org.xrayscreening.trainer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xrayscreening.trainer.TrainerCli;
import org.xrayscreening.trainer.dataset.Dataset;
import org.xrayscreening.trainer.dataset.DatasetEntry;
import org.xrayscreening.trainer.dataset.DatasetSplit;
import org.xrayscreening.trainer.dataset.Label;
import org.xrayscreening.trainer.dataset.Split;
import org.xrayscreening.trainer.dataset.SplitSpec;

class SyntheticDatasetCommandTest {

    @Test
    void writesADatasetTheTrainerReadsWithPatientGroupedSplits(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("synthetic");
        int code = TrainerCli.run("synthetic-dataset", "--out", out.toString(), "--images", "40", "--size", "64",
                "--seed", "3");
        assertThat(code).isZero();

        Dataset dataset = Dataset.load(out);
        assertThat(dataset.problems()).isEmpty();
        assertThat(dataset.entries()).hasSize(40);
        assertThat(dataset.entries()).filteredOn(e -> e.label() == Label.COVID).hasSize(20);
        assertThat(dataset.entries()).allSatisfy(e -> {
            assertThat(e.patientId()).isNotBlank();
            assertThat(e.source()).startsWith("synthetic-");
            assertThat(e.file()).isRegularFile();
        });
        BufferedImage image = ImageIO.read(dataset.entries().get(0).file().toFile());
        assertThat(image.getWidth()).isEqualTo(64);
        assertThat(image.getHeight()).isEqualTo(64);

        // the patient-grouped split keeps both images of a patient together and fills every split
        DatasetSplit split = DatasetSplit.of(dataset, new SplitSpec(42, 0.25, 0.30));
        Map<String, Split> splitOfPatient = new HashMap<>();
        for (Split s : Split.values()) {
            assertThat(split.get(s)).as(s.id()).isNotEmpty();
            for (DatasetEntry e : split.get(s)) {
                Split before = splitOfPatient.putIfAbsent(e.patientId(), s);
                assertThat(before == null || before == s).as(e.patientId() + " in one split").isTrue();
            }
        }
        assertThat(splitOfPatient).hasSize(20);
    }

    @Test
    void sameSeedSameBytesAndAnExistingManifestIsNotOverwritten(@TempDir Path tmp) throws Exception {
        SyntheticDatasetCommand.write(tmp.resolve("a"), 6, 48, 9, 2);
        SyntheticDatasetCommand.write(tmp.resolve("b"), 6, 48, 9, 2);
        assertThat(Files.readString(tmp.resolve("a/manifest.csv"))).isEqualTo(Files.readString(tmp.resolve("b/manifest.csv")));
        assertThat(Files.readAllBytes(tmp.resolve("a/covid/synthetic-00000.png")))
                .isEqualTo(Files.readAllBytes(tmp.resolve("b/covid/synthetic-00000.png")));
        assertThat(TrainerCli.run("synthetic-dataset", "--out", tmp.resolve("a").toString())).isEqualTo(2);
    }
}
