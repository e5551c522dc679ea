package org.xrayscreening.trainer.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xrayscreening.connectors.event.ImageReference;
import org.xrayscreening.connectors.event.XrayLabelled;
import org.xrayscreening.models.synthetic.SyntheticChestXray;
import org.xrayscreening.trainer.dataset.Dataset;
import org.xrayscreening.trainer.dataset.DatasetEntry;
import org.xrayscreening.trainer.dataset.Label;

class TrainingStoreTest {
    @TempDir
    Path dir;

    static byte[] png(long seed, boolean positive) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageIO.write(SyntheticChestXray.of(seed, 32, positive).gray8(), "png", out);
        return out.toByteArray();
    }

    static XrayLabelled labelled(String study, String patient, String label, String source, Instant confirmedAt,
            byte[] png) {
        return new XrayLabelled(1, study, patient, Instant.parse("2026-01-01T00:00:00Z"), "PA", "site-a",
                ImageReference.inline(ImageReference.PNG, png), label, source, confirmedAt);
    }

    static TrainingStore.Outcome put(TrainingStore store, XrayLabelled event) throws Exception {
        return store.put(event, java.util.Base64.getDecoder().decode(event.image().data()));
    }

    @Test
    void deduplicatesByStudyAndALaterConfirmationReplacesTheLabel() throws Exception {
        TrainingStore store = TrainingStore.open(dir);
        byte[] a = png(1, true);
        Instant t1 = Instant.parse("2026-01-02T00:00:00Z");
        Instant t2 = Instant.parse("2026-01-03T00:00:00Z");
        assertThat(put(store, labelled("s1", "p1", "covid", "RADIOLOGIST", t1, a))).isEqualTo(TrainingStore.Outcome.ADDED);
        assertThat(put(store, labelled("s1", "p1", "covid", "RADIOLOGIST", t1, a)))
                .isEqualTo(TrainingStore.Outcome.UNCHANGED);
        assertThat(put(store, labelled("s1", "p1", "non-covid", "PCR", t2, a))).isEqualTo(TrainingStore.Outcome.REPLACED);
        assertThat(put(store, labelled("s1", "p1", "covid", "RADIOLOGIST", t1, a)))
                .isEqualTo(TrainingStore.Outcome.IGNORED_OLDER);
        assertThat(put(store, labelled("s2", null, "covid", "PCR", null, png(2, true))))
                .isEqualTo(TrainingStore.Outcome.ADDED);
        store.flush();
        assertThat(store.rows()).hasSize(2);
        assertThat(store.rows().get(0).label()).isEqualTo("non-covid");
        assertThat(store.rows().get(0).labelSource()).isEqualTo("PCR");
        // the image is stored once, by content hash
        try (Stream<Path> images = Files.list(dir.resolve(TrainingStore.IMAGES))) {
            assertThat(images.map(p -> p.getFileName().toString()).toList()).hasSize(2)
                    .allMatch(n -> n.matches("[0-9a-f]{64}\\.png"));
        }
        // the patient reference is kept for grouping but not shown
        assertThat(store.rows().get(0).toString()).doesNotContain("p1");
    }

    @Test
    void manifestIsReplacedAtomicallyOnFlushAndSurvivesAReopen() throws Exception {
        TrainingStore store = TrainingStore.open(dir);
        put(store, labelled("s1", "p1", "covid", "PCR", null, png(1, true)));
        assertThat(store.manifest()).doesNotExist(); // nothing durable promised before flush
        store.flush();
        String first = Files.readString(store.manifest());
        put(store, labelled("s2", "p2", "non-covid", "PCR", null, png(2, false)));
        assertThat(Files.readString(store.manifest())).isEqualTo(first); // old manifest until the next flush
        store.flush();
        Files.writeString(dir.resolve(".tmp-123.csv"), "half a manifest from a crash"); // an abandoned temp file
        try (Stream<Path> files = Files.list(dir)) {
            assertThat(files.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(".tmp-") && !n.equals(".tmp-123.csv")))
                    .isEmpty();
        }
        TrainingStore reopened = TrainingStore.open(dir);
        assertThat(reopened.rows()).isEqualTo(store.rows());
        assertThat(reopened.digest()).isEqualTo(store.digest());
    }

    @Test
    void manifestRoundTripsThroughDatasetWithPatientsAndLabelSources() throws Exception {
        TrainingStore store = TrainingStore.open(dir);
        put(store, labelled("s1", "p1", "covid", "PCR", Instant.parse("2026-01-02T00:00:00Z"), png(1, true)));
        put(store, labelled("s2", "p1", "covid", "RADIOLOGIST", null, png(2, true)));
        put(store, labelled("s3", null, "non-covid", "PCR", null, png(3, false)));
        store.flush();
        Dataset dataset = Dataset.load(dir);
        assertThat(dataset.problems()).isEmpty();
        assertThat(dataset.entries()).hasSize(3);
        assertThat(dataset.count(Label.COVID)).isEqualTo(2);
        List<DatasetEntry> p1 = dataset.entries().stream().filter(e -> "p1".equals(e.patientId())).toList();
        assertThat(p1).hasSize(2);
        assertThat(p1.get(0).groupKey()).isEqualTo(p1.get(1).groupKey());
        assertThat(dataset.entries()).extracting(DatasetEntry::source).containsOnly("PCR", "RADIOLOGIST");
        assertThat(dataset.entries()).allMatch(e -> Files.isRegularFile(e.file()));
        assertThat(TrainingStore.read(store.manifest())).isEqualTo(store.rows());
    }

    @Test
    void heldOutPatientsStayHeldOutAsTheStoreGrows() throws Exception {
        TrainingStore store = TrainingStore.open(dir);
        for (int i = 0; i < 30; i++) {
            put(store, labelled("s" + i, "p" + (i / 2), i % 2 == 0 ? "covid" : "non-covid", "PCR", null, png(i, i % 2 == 0)));
        }
        TrainingStore.Snapshot first = store.snapshot("a", 0.3);
        assertThat(first.trainStudies() + first.holdoutStudies()).isEqualTo(30);
        assertThat(first.holdoutStudies()).isBetween(3, 18);
        List<DatasetEntry> heldOut = Dataset.load(first.holdoutManifest()).entries();
        // both studies of a patient land on the same side
        assertThat(heldOut.stream().map(DatasetEntry::patientId).distinct().count() * 2).isEqualTo(heldOut.size());
        for (int i = 30; i < 60; i++) {
            put(store, labelled("s" + i, "p" + (i / 2), "covid", "PCR", null, png(i, true)));
        }
        TrainingStore.Snapshot second = store.snapshot("b", 0.3);
        List<String> later = Dataset.load(second.holdoutManifest()).entries().stream().map(DatasetEntry::name).toList();
        assertThat(later).containsAll(heldOut.stream().map(DatasetEntry::name).toList());
        assertThat(Dataset.load(second.trainManifest()).entries()).extracting(DatasetEntry::name)
                .doesNotContainAnyElementsOf(later);
    }
}
