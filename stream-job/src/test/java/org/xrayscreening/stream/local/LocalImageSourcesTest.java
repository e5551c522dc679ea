package org.xrayscreening.stream.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xrayscreening.connectors.event.DeadLetterReason;
import org.xrayscreening.connectors.event.EventCodec;
import org.xrayscreening.connectors.event.ImageReference;
import org.xrayscreening.connectors.event.InvalidEventException;
import org.xrayscreening.connectors.image.ImageLimits;
import org.xrayscreening.connectors.image.ImageLoader;
import org.xrayscreening.models.synthetic.SyntheticChestXray;
import org.xrayscreening.stream.ScreeningJob;
import picocli.CommandLine;

/**
 * The local run's claim-check defaults: its own work folder (the synthetic DICOM spool) and the --data folder,
 * nothing else; the sample studies it produces load through the same policy the job gets.
 */
class LocalImageSourcesTest {

    @TempDir
    Path tmp;

    private static ImageReference image(byte[] json) throws Exception {
        return new EventCodec().parseAcquired(json).image();
    }

    @Test
    void sampleStudiesFromTheSpoolAndTheDataFolderLoadAndNothingElseDoes() throws Exception {
        Path work = tmp.resolve("local-data");
        Path data = Files.createDirectories(tmp.resolve("cxr/covid"));
        Files.write(data.resolve("a.png"), SampleStudies.encode(SyntheticChestXray.of(1, 64, true).gray8(), "png"));
        Path elsewhere = Files.write(tmp.resolve("elsewhere.png"), new byte[] {1});

        ScreeningJob job = new ScreeningJob();
        new CommandLine(job).parseArgs("--allow-url-prefix", "https://pacs.example/wado/");
        LocalScreening.allowLocalImageSources(job.options, work, tmp.resolve("cxr"));
        assertThat(job.options.imageSources().fileRoots())
                .containsExactly(work.toAbsolutePath(), tmp.resolve("cxr").toAbsolutePath());
        ImageLoader loader = new ImageLoader(ImageLimits.DEFAULTS, job.options.imageSources());

        Random random = new Random(7);
        int byUri = 0;
        for (int i = 0; i < 3; i++) {
            ImageReference ref = image(SampleStudies.synthetic(i, 64, work.resolve("spool"), random).json());
            assertThat(loader.load(ref)).isNotEmpty();
            byUri += ref.uri() != null ? 1 : 0;
        }
        assertThat(byUri).as("one in three synthetic studies is a DICOM file: claim check").isEqualTo(1);
        for (Path file : SampleStudies.listImages(tmp.resolve("cxr"))) {
            assertThat(loader.load(image(SampleStudies.fromFile(0, file).json()))).isNotEmpty();
        }
        for (String uri : List.of(elsewhere.toUri().toString(), "file:///etc/passwd", "http://127.0.0.1:9404/metrics")) {
            InvalidEventException e = catchThrowableOfType(InvalidEventException.class,
                    () -> loader.load(ImageReference.at(ImageReference.PNG, uri)));
            assertThat(e).as(uri).isNotNull();
            assertThat(e.reason()).isEqualTo(DeadLetterReason.IMAGE_SOURCE_NOT_ALLOWED);
        }
    }

    @Test
    void theClusterJobAllowsNothingUntilConfigured() {
        ScreeningJob job = new ScreeningJob();
        new CommandLine(job).parseArgs();
        assertThat(job.options.imageSources().fileRoots()).isEmpty();
        assertThat(job.options.imageSources().allowsPrivateAddresses()).isFalse();
        assertThat(job.options.settings().imageSources().summary())
                .isEqualTo("0 file root(s), 0 URL prefix(es), private addresses refused");
    }

    @Test
    void optionsComeFromTheConfigFileToo() throws Exception {
        Path config = Files.writeString(tmp.resolve("screening.properties"),
                "allow-file-root=/mnt/a,/mnt/b\nallow-url-prefix=https://pacs.example/wado/\nallow-private-addresses=true\n");
        String[] args = {"--config", config.toString()};
        ScreeningJob job = new ScreeningJob();
        ScreeningJob.commandLine(job, args).parseArgs(args);
        assertThat(job.options.imageSources().fileRoots()).containsExactly(Path.of("/mnt/a"), Path.of("/mnt/b"));
        assertThat(job.options.allowUrlPrefixes).containsExactly("https://pacs.example/wado/");
        assertThat(job.options.imageSources().allowsPrivateAddresses()).isTrue();
    }
}
