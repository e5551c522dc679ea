package org.xrayscreening.connectors.image;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;
import org.xrayscreening.connectors.event.DeadLetterReason;
import org.xrayscreening.connectors.event.EventCodec;
import org.xrayscreening.connectors.event.InvalidEventException;
import org.xrayscreening.connectors.event.XrayAcquired;
import org.xrayscreening.connectors.image.BadInputCorpus.Entry;

/**
 * The bad-input corpus through the connectors' half of the intake path (parse, claim-check policy, load,
 * decode): each entry gets the reason its manifest names, and the committed folder is exactly what
 * {@link BadInputCorpus} writes. The stream job's {@code StudyIntake} runs the same corpus in its own test and
 * the whole job in {@code BadInputCorpusIT}.
 */
class BadInputCorpusTest {

    static final Path COMMITTED = Path.of("src/test/resources/bad-inputs", BadInputCorpus.VERSION);
    static final List<Entry> ENTRIES = BadInputCorpus.entries();

    @TempDir
    static Path root;

    @BeforeAll
    static void placeFileEntries() throws Exception {
        BadInputCorpus.writeImages(ENTRIES, root);
    }

    @Test
    void hasAtLeastThirtyKindsWithUniqueNames() {
        Set<String> names = new HashSet<>();
        ENTRIES.forEach(e -> assertThat(names.add(e.name())).as(e.name()).isTrue());
        assertThat(ENTRIES).hasSizeGreaterThanOrEqualTo(30);
        assertThat(ENTRIES.stream().map(Entry::expected).filter(r -> r != null).distinct())
                .as("every dead-letter reason that bad input can earn")
                .contains(DeadLetterReason.MALFORMED_JSON, DeadLetterReason.MISSING_FIELD, DeadLetterReason.INVALID_FIELD,
                        DeadLetterReason.UNKNOWN_CONTENT_TYPE, DeadLetterReason.IMAGE_TOO_LARGE,
                        DeadLetterReason.UNDECODABLE_IMAGE, DeadLetterReason.IMAGE_UNREACHABLE,
                        DeadLetterReason.IMAGE_SOURCE_NOT_ALLOWED);
    }

    @Test
    void committedFolderIsWhatTheGeneratorWrites(@TempDir Path fresh) throws Exception {
        if (Boolean.getBoolean("bad-inputs.write")) {
            // regenerating on purpose (-Dbad-inputs.write=true): a changed entry needs a new version folder
            BadInputCorpus.write(ENTRIES, COMMITTED);
        }
        BadInputCorpus.write(ENTRIES, fresh);
        Map<String, byte[]> expected = files(fresh);
        Map<String, byte[]> committed = files(COMMITTED);
        assertThat(committed.keySet()).as("regenerate: mvn -o -pl connectors test -Dtest=BadInputCorpusTest -Dbad-inputs.write=true")
                .containsExactlyElementsOf(expected.keySet());
        expected.forEach((name, bytes) -> assertThat(java.util.Arrays.equals(committed.get(name), bytes))
                .as(name + " differs from what the generator writes").isTrue());
    }

    @TestFactory
    Stream<DynamicTest> everyEntryGetsItsExpectedOutcome() {
        ImageSourcePolicy policy = ImageSourcePolicy.of(List.of(root), List.of(BadInputCorpus.ALLOWED_URL_PREFIX), false);
        EventCodec codec = new EventCodec(BadInputCorpus.LIMITS);
        ImageDecoder decoder = new ImageDecoder(BadInputCorpus.LIMITS);
        return ENTRIES.stream().map(e -> DynamicTest.dynamicTest(e.name() + " -> " + e.expectedName(), () -> {
            try (ImageLoader loader = new ImageLoader(BadInputCorpus.LIMITS, policy)) {
                XrayAcquired event = codec.parseAcquired(e.record(root));
                BufferedImage image = decoder.decode(loader.load(event.image()), event.image().contentType());
                if (!e.valid()) {
                    fail(e.name() + " decoded to a " + image.getWidth() + "x" + image.getHeight()
                            + " image but must be dead-lettered with " + e.expected());
                }
                assertThat(image.getWidth() * (long) image.getHeight()).isPositive();
            } catch (InvalidEventException x) {
                System.out.println(e.name() + "\t" + x.reason() + "\t" + x.detail());
                assertThat(x.reason()).as(e.name() + " (detail: " + x.detail() + ")").isEqualTo(e.expected());
                assertThat(x.detail()).as(e.name()).isNotBlank()
                        .doesNotContain("PATIENT", "passwd", "127.0.0.1", "169.254", "unreachable.invalid", root.toString());
            }
        }));
    }

    private static Map<String, byte[]> files(Path dir) throws Exception {
        try (Stream<Path> s = Files.list(dir)) {
            Map<String, byte[]> m = new TreeMap<>();
            for (Path p : s.collect(Collectors.toList())) {
                m.put(p.getFileName().toString(), Files.readAllBytes(p));
            }
            return m;
        }
    }
}
