package org.xrayscreening.trainer.lifecycle;

import java.io.IOException;
import java.io.Reader;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import org.apache.commons.csv.CSVFormat;
import org.apache.commons.csv.CSVParser;
import org.apache.commons.csv.CSVPrinter;
import org.apache.commons.csv.CSVRecord;
import org.xrayscreening.connectors.event.ImageReference;
import org.xrayscreening.connectors.event.XrayLabelled;
import org.xrayscreening.trainer.dataset.Dataset;

/**
 * The trainer's durable store of confirmed studies, in a folder that {@link Dataset#load} reads as it is:
 * <pre>
 * images/&lt;sha256&gt;.png|jpg|dcm   image bytes, named by their content hash (written once, never changed)
 * manifest.csv                     file,label,source_repo,patient_id_if_known,study_id,confirmed_at
 * refit-&lt;id&gt;-train.csv           the snapshot a refit trained on (train + validation), kept for the audit trail
 * refit-&lt;id&gt;-holdout.csv         the snapshot's held-out studies (the default evaluation set)
 * </pre>
 * One row per study ({@code study_id}): a later confirmation of the same study replaces its label (a
 * confirmation older than the stored one is ignored; without timestamps the later arrival wins).
 * {@code source_repo} holds the label source (PCR / RADIOLOGIST), so evaluations report per label source.
 *
 * <p>Durability: {@link #put} writes the image (temporary file, fsync, atomic rename) before it returns; the
 * manifest is rewritten by {@link #flush} the same way (temporary file, fsync, atomic rename, fsync of the
 * folder), so a reader or a crash sees the old or the new manifest, never a torn one. Kafka offsets are
 * committed only after {@link #flush} returned.
 *
 * <p>Patient references are stored (patient-grouped splits need them) and are sensitive: they are never
 * logged, and {@link Row#toString()} leaves them out. Thread-safe.
 */
public final class TrainingStore {
    public static final String MANIFEST = Dataset.MANIFEST;
    public static final String IMAGES = "images";
    public static final List<String> COLUMNS = List.of("file", "label", "source_repo", "patient_id_if_known",
            "study_id", "confirmed_at");

    /** One stored study. */
    public record Row(String studyId, String file, String label, String labelSource, String patientRef,
            Instant confirmedAt) {
        public Row {
            Objects.requireNonNull(studyId, "studyId");
            Objects.requireNonNull(file, "file");
            Objects.requireNonNull(label, "label");
            patientRef = patientRef == null || patientRef.isBlank() ? null : patientRef;
        }

        /** The key that keeps one patient's studies together: the patient, or the study when unknown. */
        public String groupKey() {
            return patientRef != null ? "patient:" + patientRef : "study:" + studyId;
        }

        /** Without the patient reference. */
        @Override
        public String toString() {
            return "Row[studyId=" + studyId + ", file=" + file + ", label=" + label + ", labelSource=" + labelSource
                    + ", confirmedAt=" + confirmedAt + "]";
        }
    }

    /** What {@link #put} did with an event. */
    public enum Outcome {
        /** A study not seen before. */
        ADDED,
        /** A known study with a new label, label source, image or confirmation time. */
        REPLACED,
        /** A known study, same content (a redelivery). */
        UNCHANGED,
        /** A confirmation older than the stored one. */
        IGNORED_OLDER
    }

    /** The manifests of one refit's snapshot, both in the store folder (so their image paths resolve). */
    public record Snapshot(Path trainManifest, Path holdoutManifest, int trainStudies, int trainCovid,
            int holdoutStudies, int holdoutCovid, String digest) {}

    private final Path root;
    private final Map<String, Row> rows = new TreeMap<>();
    private boolean dirty;

    private TrainingStore(Path root) {
        this.root = root;
    }

    /** Opens (or creates) the store at {@code root}, reading its manifest if there is one. */
    public static TrainingStore open(Path root) throws IOException {
        Path r = root.toAbsolutePath().normalize();
        Files.createDirectories(r.resolve(IMAGES));
        TrainingStore store = new TrainingStore(r);
        Path manifest = r.resolve(MANIFEST);
        if (Files.isRegularFile(manifest)) {
            for (Row row : read(manifest)) {
                store.rows.put(row.studyId(), row);
            }
        }
        return store;
    }

    public Path root() {
        return root;
    }

    public Path manifest() {
        return root.resolve(MANIFEST);
    }

    /**
     * Records a confirmed study: the image is written durably now, the manifest row changes in memory until
     * {@link #flush}.
     */
    public synchronized Outcome put(XrayLabelled event, byte[] image) throws IOException {
        Objects.requireNonNull(event, "event");
        Objects.requireNonNull(image, "image");
        Row old = rows.get(event.studyId());
        if (old != null && old.confirmedAt() != null && event.confirmedAt() != null
                && event.confirmedAt().isBefore(old.confirmedAt())) {
            return Outcome.IGNORED_OLDER;
        }
        String file = IMAGES + "/" + sha256(image) + "." + extension(event.image().contentType());
        writeImage(root.resolve(file), image);
        Row row = new Row(event.studyId(), file, event.label(), event.labelSource(), event.patientRef(),
                event.confirmedAt());
        if (row.equals(old)) {
            return Outcome.UNCHANGED;
        }
        rows.put(row.studyId(), row);
        dirty = true;
        return old == null ? Outcome.ADDED : Outcome.REPLACED;
    }

    /** Writes the manifest if anything changed since the last flush; durable when it returns. */
    public synchronized void flush() throws IOException {
        if (!dirty) {
            return;
        }
        writeManifest(manifest(), rows.values());
        dirty = false;
    }

    /** The stored studies, sorted by study id. */
    public synchronized List<Row> rows() {
        return List.copyOf(rows.values());
    }

    public synchronized int size() {
        return rows.size();
    }

    /** sha256 over the manifest's rows (study, image, label): changes exactly when the training data change. */
    public synchronized String digest() {
        MessageDigest md = newSha256();
        for (Row r : rows.values()) {
            md.update((r.studyId() + "\t" + r.file() + "\t" + r.label() + "\n").getBytes(StandardCharsets.UTF_8));
        }
        return "sha256:" + HexFormat.of().formatHex(md.digest());
    }

    /**
     * Writes {@code refit-<id>-train.csv} and {@code refit-<id>-holdout.csv} from the current rows. A study
     * is held out when its patient (or, without a patient, the study itself) hashes below
     * {@code holdoutFraction}: the assignment depends only on the patient, so a patient held out once stays
     * held out as the store grows, and no model trained on this store has seen the held-out patients.
     */
    public synchronized Snapshot snapshot(String id, double holdoutFraction) throws IOException {
        if (!(holdoutFraction >= 0 && holdoutFraction < 1)) {
            throw new IllegalArgumentException("holdout fraction must be in [0, 1): " + holdoutFraction);
        }
        List<Row> train = new ArrayList<>();
        List<Row> holdout = new ArrayList<>();
        for (Row r : rows.values()) {
            (isHeldOut(r, holdoutFraction) ? holdout : train).add(r);
        }
        Path trainManifest = root.resolve("refit-" + id + "-train.csv");
        Path holdoutManifest = root.resolve("refit-" + id + "-holdout.csv");
        writeManifest(trainManifest, train);
        writeManifest(holdoutManifest, holdout);
        return new Snapshot(trainManifest, holdoutManifest, train.size(), covid(train), holdout.size(), covid(holdout),
                digest());
    }

    /** Whether the row's patient group is in the held-out share (a pure function of the group key). */
    static boolean isHeldOut(Row row, double fraction) {
        byte[] h = newSha256().digest(("holdout\t" + row.groupKey()).getBytes(StandardCharsets.UTF_8));
        long v = ByteBuffer.wrap(h, 0, 4).getInt() & 0xFFFFFFFFL;
        return v < fraction * 4294967296.0;
    }

    private static int covid(List<Row> rows) {
        return (int) rows.stream().filter(r -> XrayLabelled.COVID.equals(r.label())).count();
    }

    static String extension(String contentType) {
        return switch (contentType) {
            case ImageReference.PNG -> "png";
            case ImageReference.JPEG -> "jpg";
            case ImageReference.DICOM -> "dcm";
            default -> throw new IllegalArgumentException("unsupported content type " + contentType);
        };
    }

    private void writeImage(Path target, byte[] bytes) throws IOException {
        if (Files.isRegularFile(target) && Files.size(target) == bytes.length) {
            return; // content-addressed: the same name holds the same bytes
        }
        Path tmp = Files.createTempFile(target.getParent(), ".tmp-", ".img");
        try {
            writeDurably(tmp, bytes);
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            fsyncDirectory(target.getParent());
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    static void writeManifest(Path target, Collection<Row> rows) throws IOException {
        StringWriter text = new StringWriter();
        try (CSVPrinter printer = new CSVPrinter(text, CSVFormat.DEFAULT.builder()
                .setHeader(COLUMNS.toArray(String[]::new)).setRecordSeparator('\n').get())) {
            for (Row r : rows) {
                printer.printRecord(r.file(), r.label(), r.labelSource(), r.patientRef() == null ? "" : r.patientRef(),
                        r.studyId(), r.confirmedAt() == null ? "" : r.confirmedAt().toString());
            }
        }
        Path tmp = Files.createTempFile(target.getParent(), ".tmp-", ".csv");
        try {
            writeDurably(tmp, text.toString().getBytes(StandardCharsets.UTF_8));
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            fsyncDirectory(target.getParent());
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    static List<Row> read(Path manifest) throws IOException {
        List<Row> out = new ArrayList<>();
        CSVFormat format = CSVFormat.DEFAULT.builder().setHeader().setSkipHeaderRecord(true).get();
        try (Reader reader = Files.newBufferedReader(manifest, StandardCharsets.UTF_8);
                CSVParser parser = CSVParser.parse(reader, format)) {
            for (CSVRecord r : parser) {
                String confirmed = r.get("confirmed_at");
                out.add(new Row(r.get("study_id"), r.get("file"), r.get("label"), r.get("source_repo"),
                        r.get("patient_id_if_known"), confirmed.isEmpty() ? null : Instant.parse(confirmed)));
            }
        }
        return out;
    }

    private static void writeDurably(Path file, byte[] bytes) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer buf = ByteBuffer.wrap(bytes);
            while (buf.hasRemaining()) {
                ch.write(buf);
            }
            ch.force(true);
        }
    }

    private static void fsyncDirectory(Path dir) {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException e) {
            // some file systems cannot open a directory for fsync; the rename is still atomic
        }
    }

    static String sha256(byte[] bytes) {
        return HexFormat.of().formatHex(newSha256().digest(bytes));
    }

    private static MessageDigest newSha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
