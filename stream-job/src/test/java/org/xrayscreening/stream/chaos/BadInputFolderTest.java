package org.xrayscreening.stream.chaos;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xrayscreening.connectors.image.BadInputCorpus;

/** The chaos run's reading of the checked-in corpus folder gives exactly the records the corpus class builds. */
class BadInputFolderTest {

    /** Surefire runs in the module's folder; the corpus is checked in beside it. */
    static final Path CHECKED_IN = Path.of("..", "connectors", "src", "test", "resources", "bad-inputs", BadInputCorpus.VERSION);

    @TempDir
    Path root;

    @Test
    void everyEntryOfTheCheckedInFolderIsTheCorpusClassesRecordWithItsExpectedOutcome() throws IOException {
        BadInputFolder folder = BadInputFolder.read(CHECKED_IN);
        List<BadInputCorpus.Entry> corpus = BadInputCorpus.entries();
        assertThat(folder.entries()).hasSize(corpus.size()).hasSizeGreaterThanOrEqualTo(30);
        for (int i = 0; i < corpus.size(); i++) {
            BadInputCorpus.Entry expected = corpus.get(i);
            BadInputFolder.Entry read = folder.entries().get(i);
            assertThat(read.name()).isEqualTo(expected.name());
            assertThat(read.studyId()).isEqualTo(expected.studyId());
            assertThat(read.expected()).as(read.file()).isEqualTo(expected.expectedName());
            assertThat(read.valid()).isEqualTo(expected.valid());
            assertThat(read.record(root)).as(read.file()).isEqualTo(expected.record(root));
        }
        folder.writeImages(root);
        for (BadInputCorpus.Entry e : corpus) {
            if (e.delivery() == BadInputCorpus.Delivery.FILE) {
                assertThat(root.resolve(e.fileName())).hasBinaryContent(e.bytes());
            }
        }
    }

    @Test
    void theLimitsTheOutcomesAssumeComeFromTheManifest() throws IOException {
        BadInputFolder.Limits limits = BadInputFolder.read(CHECKED_IN).limits();
        assertThat(limits).isEqualTo(new BadInputFolder.Limits(BadInputCorpus.LIMITS.maxBytes(),
                BadInputCorpus.LIMITS.maxPixels(), BadInputCorpus.LIMITS.maxSide(), BadInputCorpus.ALLOWED_URL_PREFIX));
    }

    @Test
    void aFolderThatIsNoCorpusIsAClearError() throws IOException {
        assertThatThrownBy(() -> BadInputFolder.read(root)).isInstanceOf(IOException.class)
                .hasMessageContaining("no bad-input corpus").hasMessageContaining("--corpus");
        Files.writeString(root.resolve("manifest.tsv"), "file\tkind\tdelivery\tcontent_type\texpected\twhy\n");
        assertThatThrownBy(() -> BadInputFolder.read(root)).isInstanceOf(IOException.class)
                .hasMessageContaining("limits");
    }
}
