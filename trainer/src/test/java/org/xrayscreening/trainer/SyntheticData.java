package org.xrayscreening.trainer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.xrayscreening.models.synthetic.SyntheticChestXray;

/** Writes a small synthetic dataset (PNG files + manifest.csv) for the trainer tests. */
public final class SyntheticData {
    private SyntheticData() {}

    /**
     * {@code covid} positive and {@code nonCovid} negative images of {@code size} px; every second image shares
     * a patient with the one before it, every fifth has no patient id; sources alternate between two names.
     */
    public static Path write(Path root, int covid, int nonCovid, int size) throws IOException {
        Files.createDirectories(root.resolve("covid"));
        Files.createDirectories(root.resolve("non-covid"));
        StringBuilder manifest = new StringBuilder("file,label,source_repo,patient_id_if_known\n");
        for (int i = 0; i < covid + nonCovid; i++) {
            boolean positive = i < covid;
            String label = positive ? "covid" : "non-covid";
            String name = label + "/img" + i + ".png";
            ImageIO.write(SyntheticChestXray.of(1000 + i, size, positive).gray8(), "png", root.resolve(name).toFile());
            String patient = i % 5 == 4 ? "" : label + "-p" + (i / 2);
            String source = (i % 2 == 0 ? "sourceA" : "sourceB");
            manifest.append(name).append(',').append(label).append(',').append(source).append(',').append(patient)
                    .append('\n');
        }
        Files.writeString(root.resolve("manifest.csv"), manifest.toString());
        return root;
    }

    /**
     * As {@link #write}, plus a lung mask per image (the generator's own lung fields, 1-bit PNG at 1.5 times the
     * image size, so readers must resize) in {@code masks/} and the manifest column {@code lung_mask}.
     */
    public static Path writeWithLungMasks(Path root, int covid, int nonCovid, int size) throws IOException {
        write(root, covid, nonCovid, size);
        Files.createDirectories(root.resolve("masks"));
        List<String> lines = Files.readAllLines(root.resolve("manifest.csv"));
        StringBuilder manifest = new StringBuilder(lines.get(0)).append(",lung_mask\n");
        for (int i = 0; i < covid + nonCovid; i++) {
            String mask = "masks/img" + i + ".png";
            ImageIO.write(SyntheticChestXray.of(1000 + i, size * 3 / 2, i < covid).lungMask(), "png",
                    root.resolve(mask).toFile());
            manifest.append(lines.get(i + 1)).append(',').append(mask).append('\n');
        }
        Files.writeString(root.resolve("manifest.csv"), manifest.toString());
        return root;
    }
}
