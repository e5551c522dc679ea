package org.xrayscreening.trainer.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import javax.imageio.ImageIO;
import org.xrayscreening.models.synthetic.SyntheticChestXray;
import org.xrayscreening.trainer.dataset.Dataset;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code synthetic-dataset}: writes a small deterministic dataset of synthetic chest X-rays (PNG files under
 * {@code covid/} and {@code non-covid/} plus a {@code manifest.csv} with patient ids and sources) that
 * {@code train} and {@code evaluate} read as is. For smoke tests and demos; not a medical data set.
 */
@Command(name = "synthetic-dataset", mixinStandardHelpOptions = true,
        description = "Write a deterministic synthetic dataset (PNGs + manifest.csv) for smoke tests and demos.")
public final class SyntheticDatasetCommand implements Callable<Integer> {
    @Option(names = "--out", required = true, description = "folder to write (created; must not hold a manifest.csv)")
    Path out;

    @Option(names = "--images", defaultValue = "64", description = "number of images, half of them COVID-19 (default: ${DEFAULT-VALUE})")
    int images;

    @Option(names = "--size", defaultValue = "128", description = "image side in px (default: ${DEFAULT-VALUE})")
    int size;

    @Option(names = "--seed", defaultValue = "1", description = "generator seed (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--images-per-patient", defaultValue = "2",
            description = "consecutive images of one label share a patient id (default: ${DEFAULT-VALUE})")
    int imagesPerPatient;

    @Override
    public Integer call() throws Exception {
        if (images < 2 || size < 16 || imagesPerPatient < 1) {
            System.err.println("--images must be >= 2, --size >= 16 and --images-per-patient >= 1");
            return 2;
        }
        if (Files.exists(out.resolve(Dataset.MANIFEST))) {
            System.err.println(out.resolve(Dataset.MANIFEST) + " exists; choose an empty --out folder");
            return 2;
        }
        write(out, images, size, seed, imagesPerPatient);
        System.out.printf(Locale.ROOT, "wrote %d synthetic images (%d px) and %s to %s%n", images, size,
                Dataset.MANIFEST, out);
        return 0;
    }

    /**
     * Image i is COVID-19 when i is even; images of one label are grouped into patients of
     * {@code imagesPerPatient} consecutive images, and alternate between two sources.
     */
    public static Path write(Path out, int images, int size, long seed, int imagesPerPatient) throws IOException {
        Files.createDirectories(out.resolve("covid"));
        Files.createDirectories(out.resolve("non-covid"));
        StringBuilder manifest = new StringBuilder("file,label,source_repo,patient_id_if_known\n");
        for (int i = 0; i < images; i++) {
            boolean positive = i % 2 == 0;
            String label = positive ? "covid" : "non-covid";
            int withinLabel = i / 2;
            String name = String.format(Locale.ROOT, "%s/synthetic-%05d.png", label, i);
            ImageIO.write(SyntheticChestXray.of(seed * 1_000_003L + i, size, positive).gray8(), "png",
                    out.resolve(name).toFile());
            String patient = String.format(Locale.ROOT, "%s-patient-%04d", label, withinLabel / imagesPerPatient);
            String source = withinLabel % 2 == 0 ? "synthetic-a" : "synthetic-b";
            manifest.append(name).append(',').append(label).append(',').append(source).append(',').append(patient)
                    .append('\n');
        }
        Files.writeString(out.resolve(Dataset.MANIFEST), manifest.toString(), StandardCharsets.UTF_8);
        return out;
    }
}
