package org.xrayscreening.trainer.dataset;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xrayscreening.models.Architecture;
import org.xrayscreening.models.preprocess.Preprocessor;
import org.xrayscreening.trainer.SyntheticData;

class DatasetTest {
    @TempDir
    Path dir;

    @Test
    void readsManifestWithPatientsAndSourcesAndReportsBadRows() throws Exception {
        SyntheticData.write(dir, 3, 5, 32);
        Files.writeString(dir.resolve("manifest.csv"), "covid/extra.png,maybe,sourceA,p9\n",
                java.nio.file.StandardOpenOption.APPEND);
        Dataset d = Dataset.load(dir);
        assertThat(d.entries()).hasSize(8);
        assertThat(d.problems()).singleElement().asString().contains("extra.png").contains("unknown label");
        assertThat(d.count(Label.COVID)).isEqualTo(3);
        assertThat(d.hasSources()).isTrue();
        assertThat(d.entries().get(0).patientId()).isEqualTo("covid-p0");
        assertThat(d.entries().stream().filter(e -> e.patientId() == null)).isNotEmpty();
    }

    @Test
    void sourcesCanBeLeftOutOrSelectedAndAMisspeltSourceIsNamed() throws Exception {
        SyntheticData.write(dir, 3, 5, 32); // sources alternate: sourceA, sourceB, ...
        Dataset d = Dataset.load(dir);
        assertThat(d.sources()).containsExactly("sourceA", "sourceB");
        Dataset withoutB = d.withoutSources(java.util.List.of("sourceB"));
        assertThat(withoutB.entries()).hasSize(4).allSatisfy(e -> assertThat(e.source()).isEqualTo("sourceA"));
        assertThat(d.onlySources(java.util.List.of("sourceB")).entries()).hasSize(4)
                .allSatisfy(e -> assertThat(e.source()).isEqualTo("sourceB"));
        assertThat(d.withoutSources(java.util.List.of())).isSameAs(d);
        // a left-out source changes the split, so its digest: a model records which data it was selected on
        SplitSpec spec = SplitSpec.paper(1);
        assertThat(DatasetSplit.of(withoutB, spec).digest()).isNotEqualTo(DatasetSplit.of(d, spec).digest());
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> d.withoutSources(java.util.List.of("sourceC")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no source 'sourceC'")
                .hasMessageContaining("[sourceA, sourceB]");
    }

    @Test
    void readsFolderLayoutWithoutManifest() throws Exception {
        SyntheticData.write(dir, 2, 3, 32);
        Files.delete(dir.resolve("manifest.csv"));
        Dataset d = Dataset.load(dir);
        assertThat(d.entries()).hasSize(5);
        assertThat(d.entries()).allSatisfy(e -> assertThat(e.patientId()).isNull());
        assertThat(d.count(Label.NON_COVID)).isEqualTo(3);
    }

    @Test
    void unreadableImagesAreSkippedAndReported() throws Exception {
        SyntheticData.write(dir, 2, 2, 32);
        Files.write(dir.resolve("covid/img0.png"), new byte[] {1, 2, 3, 4});
        Files.delete(dir.resolve("non-covid/img3.png"));
        Dataset d = Dataset.load(dir);
        PreparedImages p = PreparedImages.load(d.entries(), Preprocessor.forArchitecture(Architecture.MOBILENET, 32));
        assertThat(p.size()).isEqualTo(2);
        assertThat(p.skipped()).hasSize(2);
        assertThat(String.join("\n", p.skipped())).contains("covid/img0.png").contains("non-covid/img3.png");
        assertThat(p.input(0)).hasSize(3 * 32 * 32);
    }

    @Test
    void dicomFoldersAreReadThroughTheStreamsDecoder() throws Exception {
        java.awt.image.BufferedImage covid = org.xrayscreening.models.synthetic.SyntheticChestXray.positive(1, 64).gray8();
        java.awt.image.BufferedImage clear = org.xrayscreening.models.synthetic.SyntheticChestXray.negative(2, 64).gray8();
        Files.createDirectories(dir.resolve("covid/study1"));
        Files.createDirectories(dir.resolve("non-covid"));
        // a PACS export: no extension; a .dcm; a .dicom; and a PNG of the same picture as the .dcm
        org.xrayscreening.connectors.image.DicomWriter.of(covid).monochrome1(false).write(dir.resolve("covid/study1/IM0001"));
        org.xrayscreening.connectors.image.DicomWriter.of(clear).write(dir.resolve("non-covid/a.dcm"));
        org.xrayscreening.connectors.image.DicomWriter.of(clear).write(dir.resolve("non-covid/b.dicom"));
        javax.imageio.ImageIO.write(clear, "png", dir.resolve("non-covid/c.png").toFile());
        Files.writeString(dir.resolve("covid/study1/notes.txt"), "not an image");
        Dataset d = Dataset.load(dir);
        assertThat(d.entries()).extracting(DatasetEntry::name)
                .containsExactly("covid/study1/IM0001", "non-covid/a.dcm", "non-covid/b.dicom", "non-covid/c.png");
        PreparedImages p = PreparedImages.load(d.entries(), Preprocessor.forArchitecture(Architecture.MOBILENET, 32));
        assertThat(p.skipped()).isEmpty();
        assertThat(p.input(1)).containsExactly(p.input(3));
        assertThat(p.input(2)).containsExactly(p.input(3));
    }
}
