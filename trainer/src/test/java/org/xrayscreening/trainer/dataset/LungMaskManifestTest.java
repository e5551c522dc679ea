package org.xrayscreening.trainer.dataset;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xrayscreening.models.explain.HeatmapRegions;
import org.xrayscreening.models.synthetic.SyntheticChestXray;
import org.xrayscreening.trainer.SyntheticData;
import org.xrayscreening.trainer.evaluation.HeatmapReview;

/** The manifest column {@code lung_mask}: read, resolved like {@code file}, and a bad mask named clearly. */
class LungMaskManifestTest {
    @TempDir
    Path dir;

    @Test
    void theMaskColumnIsReadAndTheMaskIsTheImagesLungs() throws Exception {
        SyntheticData.writeWithLungMasks(dir, 2, 2, 32);
        Dataset d = Dataset.load(dir);
        assertThat(d.problems()).isEmpty();
        DatasetEntry first = d.entries().get(0); // covid/img0.png
        assertThat(first.name()).isEqualTo("covid/img0.png");
        assertThat(first.lungMask()).isEqualTo(dir.toAbsolutePath().normalize().resolve("masks/img0.png"));

        // the 48 px mask, read back and brought to the image's 32 px, is the generator's 32 px lung field
        boolean[] mask = HeatmapRegions.maskAt(HeatmapReview.readMask(first), 32, 32);
        boolean[] truth = SyntheticChestXray.positive(1000, 32).lungField();
        int agree = 0;
        for (int i = 0; i < mask.length; i++) {
            agree += mask[i] == truth[i] ? 1 : 0;
        }
        assertThat(agree).isGreaterThan((int) (0.95 * mask.length));
    }

    @Test
    void aBlankCellMeansNoMaskAndAPathOutsideTheDatasetIsAProblemRow() throws Exception {
        SyntheticData.write(dir, 2, 2, 32);
        List<String> lines = Files.readAllLines(dir.resolve("manifest.csv"));
        StringBuilder manifest = new StringBuilder(lines.get(0) + ",lung_mask\n");
        manifest.append(lines.get(1)).append(",\n");
        manifest.append(lines.get(2)).append(",../elsewhere/mask.png\n");
        manifest.append(lines.get(3)).append(",masks/img2.png\n");
        manifest.append(lines.get(4)).append(",\n");
        Files.writeString(dir.resolve("manifest.csv"), manifest);

        Dataset d = Dataset.load(dir);
        assertThat(d.entries()).hasSize(3);
        assertThat(d.problems()).singleElement().asString().contains("img1.png").contains("lung mask");
        assertThat(d.entries().stream().filter(e -> e.lungMask() != null)).singleElement()
                .extracting(DatasetEntry::name).isEqualTo("non-covid/img2.png");
    }

    @Test
    void aMissingOrUnreadableMaskIsAnErrorNamingTheImageAndTheMask() throws Exception {
        SyntheticData.writeWithLungMasks(dir, 1, 1, 32);
        Dataset d = Dataset.load(dir);
        DatasetEntry covid = d.entries().get(0);
        DatasetEntry other = d.entries().get(1);
        Files.delete(covid.lungMask());
        Files.writeString(other.lungMask(), "not a png");

        assertThatThrownBy(() -> HeatmapReview.readMask(covid)).isInstanceOf(IOException.class)
                .hasMessageContaining("covid/img0.png").hasMessageContaining("not found")
                .hasMessageContaining("img0.png");
        assertThatThrownBy(() -> HeatmapReview.readMask(other)).isInstanceOf(IOException.class)
                .hasMessageContaining("non-covid/img1.png").hasMessageContaining("masks/img1.png");
    }

    @Test
    void combinedCollectionsKeepEachImagesMask() throws Exception {
        SyntheticData.writeWithLungMasks(dir.resolve("hospitalA"), 1, 1, 32);
        SyntheticData.write(dir.resolve("hospitalB"), 1, 1, 32);
        Dataset d = Dataset.load(List.of(dir.resolve("hospitalA"), dir.resolve("hospitalB")));
        assertThat(d.entries()).hasSize(4);
        for (DatasetEntry e : d.entries()) {
            if (e.name().startsWith("hospitalA/")) {
                assertThat(e.lungMask()).isRegularFile().hasParent(dir.resolve("hospitalA/masks").toAbsolutePath()
                        .normalize());
            } else {
                assertThat(e.lungMask()).isNull();
            }
        }
    }
}
