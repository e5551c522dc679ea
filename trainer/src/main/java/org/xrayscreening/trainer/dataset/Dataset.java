package org.xrayscreening.trainer.dataset;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.apache.commons.csv.CSVFormat;
import org.apache.commons.csv.CSVParser;
import org.apache.commons.csv.CSVRecord;

/**
 * A labelled image collection: either a folder with {@code covid/} and {@code non-covid/} sub-folders, or a
 * {@code manifest.csv} (columns {@code file}, {@code label}, optionally {@code patient_id_if_known} /
 * {@code patient_id} and {@code source_repo} / {@code source}; the layout of shared/data/cxr-dev). A folder
 * that holds a {@code manifest.csv} is read through the manifest. Entries are sorted by name, so the order
 * (and everything seeded that follows from it) does not depend on the file system.
 *
 * <p>Several collections (one folder per hospital or archive, each with its own manifest) are read into one
 * dataset by {@link #load(List)}; see there how names, patients and sources are kept apart.
 *
 * <p>Lung masks: an optional manifest column {@code lung_mask} gives, per image, the path (relative to the
 * manifest's folder, like {@code file}) of a binary PNG of the lung fields: any size (it is stretched to the
 * image, as the preprocessing stretches the image to the network's input), lung where the gray value is above
 * half its range (0/1, 0/255, 16-bit and 1-bit or palette PNGs all work), background elsewhere, both lungs in one
 * mask. An empty cell means no mask for that image. {@code trainer evaluate --gallery} then reports the share of
 * each model's Grad-CAM mass inside the lungs. A mask path that leaves the dataset folder makes its row a problem
 * like a bad {@code file}; a mask that is missing or unreadable fails the evaluation that reads it, naming the
 * image and the mask.
 *
 * @param root the folder entry names are relative to; of combined collections their nearest common folder
 *     (names then start with the collection's folder name)
 * @param origin where the data came from, for reports (combined: the collections' origins joined by " + ")
 */
public record Dataset(Path root, String origin, List<DatasetEntry> entries, List<String> problems) {
    public static final String MANIFEST = "manifest.csv";
    private static final Set<String> IMAGE_SUFFIXES = Set.of(".png", ".jpg", ".jpeg", ".dcm", ".dicom");
    private static final List<String> PATIENT_COLUMNS = List.of("patient_id_if_known", "patient_id", "patient");
    private static final List<String> SOURCE_COLUMNS = List.of("source_repo", "source");
    /** The manifest column of lung-mask paths. */
    public static final String LUNG_MASK_COLUMN = "lung_mask";

    public Dataset {
        entries = List.copyOf(entries);
        problems = List.copyOf(problems);
    }

    /** Reads a dataset folder or a manifest file. */
    public static Dataset load(Path dirOrManifest) throws IOException {
        Path p = dirOrManifest.toAbsolutePath().normalize();
        if (Files.isRegularFile(p)) {
            return fromManifest(p);
        }
        if (!Files.isDirectory(p)) {
            throw new IOException("no dataset at " + dirOrManifest + " (expected a folder or a manifest.csv)");
        }
        if (Files.isRegularFile(p.resolve(MANIFEST))) {
            return fromManifest(p.resolve(MANIFEST));
        }
        return fromFolders(p);
    }

    /**
     * Reads one collection ({@link #load(Path)}, unchanged: names, patients, sources and so every split digest
     * are those of the collection alone) or combines several into one dataset. Combined, each collection is
     * named by its folder (for a manifest file: the manifest's folder), and
     * <ul>
     *   <li>an entry's name becomes {@code <collection>/<name>}, so file names that recur in two collections
     *       stay distinct (and the split digest covers every collection);</li>
     *   <li>its patient id becomes {@code <collection>/<id>}: patient "p1" of one hospital is not patient "p1" of
     *       another, so the patient-grouped split and the patient bootstrap treat them as two patients;</li>
     *   <li>its source is the manifest's source column or, where that is absent or blank, the collection name,
     *       so {@code --exclude-source}, {@code --only-source} and the per-source tables can name a whole
     *       collection. A source name shared by two collections is one source (the same public archive may
     *       reach us through two collections);</li>
     *   <li>a manifest problem is prefixed with its collection.</li>
     * </ul>
     * Two collections with the same folder name, or one given twice, are refused.
     */
    public static Dataset load(List<Path> collections) throws IOException {
        if (collections == null || collections.isEmpty()) {
            throw new IllegalArgumentException("no dataset given");
        }
        if (collections.size() == 1) {
            return load(collections.get(0));
        }
        Map<String, Path> byName = new java.util.LinkedHashMap<>();
        List<DatasetEntry> entries = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        List<String> origins = new ArrayList<>();
        Path commonRoot = null;
        for (Path given : collections) {
            Dataset part = load(given);
            String collection = collectionName(part.root());
            Path earlier = byName.putIfAbsent(collection, part.root());
            if (earlier != null) {
                throw new IllegalArgumentException(earlier.equals(part.root())
                        ? "dataset folder " + part.root() + " is given twice (collections are told apart by folder)"
                        : "two datasets are named '" + collection + "' (" + earlier + " and " + part.root()
                                + "): names and patient ids are kept apart by folder name, so the folders need"
                                + " distinct names");
            }
            for (DatasetEntry e : part.entries()) {
                entries.add(new DatasetEntry(collection + "/" + e.name(), e.file(), e.label(),
                        e.patientId() == null ? null : collection + "/" + e.patientId(),
                        e.source() == null ? collection : e.source(), e.lungMask()));
            }
            part.problems().forEach(p -> problems.add(collection + ": " + p));
            origins.add(part.origin());
            commonRoot = commonRoot == null ? part.root() : commonAncestor(commonRoot, part.root());
        }
        entries.sort(Comparator.comparing(DatasetEntry::name));
        return new Dataset(commonRoot, String.join(" + ", origins), entries, problems);
    }

    /** The name a collection goes by when combined with others: its folder's name. */
    static String collectionName(Path root) {
        Path name = root.getFileName();
        if (name == null) {
            throw new IllegalArgumentException("a dataset in the file system root (" + root + ") has no folder name"
                    + " to tell it apart from other datasets");
        }
        return name.toString();
    }

    private static Path commonAncestor(Path a, Path b) {
        Path p = a;
        while (p != null && !b.startsWith(p)) {
            p = p.getParent();
        }
        return p == null ? a.getRoot() : p;
    }

    /** Reads a manifest; image paths are relative to the manifest's folder. Rows that cannot be used are reported. */
    public static Dataset fromManifest(Path manifest) throws IOException {
        Path root = manifest.toAbsolutePath().normalize().getParent();
        List<DatasetEntry> entries = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        CSVFormat format = CSVFormat.DEFAULT.builder().setHeader().setSkipHeaderRecord(true).setTrim(true)
                .setIgnoreEmptyLines(true).get();
        try (Reader reader = Files.newBufferedReader(manifest, StandardCharsets.UTF_8);
                CSVParser parser = CSVParser.parse(reader, format)) {
            Map<String, Integer> header = parser.getHeaderMap();
            if (!header.containsKey("file") || !header.containsKey("label")) {
                throw new IOException(manifest + " needs the columns 'file' and 'label'; it has " + header.keySet());
            }
            String patientColumn = firstPresent(header, PATIENT_COLUMNS);
            String sourceColumn = firstPresent(header, SOURCE_COLUMNS);
            boolean hasMasks = header.containsKey(LUNG_MASK_COLUMN);
            for (CSVRecord row : parser) {
                String file = row.get("file");
                try {
                    Label label = Label.parse(row.get("label"));
                    String name = file.replace('\\', '/');
                    Path path = root.resolve(name).normalize();
                    if (!path.startsWith(root)) {
                        throw new IllegalArgumentException("path leaves the dataset folder");
                    }
                    if (!seen.add(name)) {
                        throw new IllegalArgumentException("listed twice");
                    }
                    Path mask = null;
                    String maskName = hasMasks ? row.get(LUNG_MASK_COLUMN) : "";
                    if (!maskName.isBlank()) {
                        mask = root.resolve(maskName.replace('\\', '/')).normalize();
                        if (!mask.startsWith(root)) {
                            throw new IllegalArgumentException("lung mask path leaves the dataset folder");
                        }
                    }
                    entries.add(new DatasetEntry(name, path, label,
                            patientColumn == null ? null : row.get(patientColumn),
                            sourceColumn == null ? null : row.get(sourceColumn), mask));
                } catch (IllegalArgumentException | IllegalStateException e) {
                    problems.add(manifest.getFileName() + " line " + parser.getCurrentLineNumber() + " (" + file + "): "
                            + e.getMessage());
                }
            }
        }
        entries.sort(Comparator.comparing(DatasetEntry::name));
        return new Dataset(root, manifest.toString(), entries, problems);
    }

    /** Reads {@code covid/} and {@code non-covid/} sub-folders (recursively); no patient ids, no source. */
    public static Dataset fromFolders(Path root) throws IOException {
        List<DatasetEntry> entries = new ArrayList<>();
        for (Label label : Label.values()) {
            Path dir = root.resolve(label.id());
            if (!Files.isDirectory(dir)) {
                throw new IOException("dataset folder " + root + " has no " + label.id() + "/ sub-folder (and no "
                        + MANIFEST + ")");
            }
            try (Stream<Path> walk = Files.walk(dir)) {
                for (Path f : walk.filter(Files::isRegularFile).filter(Dataset::isImage).toList()) {
                    String name = root.relativize(f).toString().replace('\\', '/');
                    entries.add(new DatasetEntry(name, f, label, null, null));
                }
            }
        }
        entries.sort(Comparator.comparing(DatasetEntry::name));
        return new Dataset(root, root.toString(), entries, List.of());
    }

    /**
     * This dataset without the images of the named sources (leave-one-source-out training); every name must
     * be a source of this dataset, so a typo cannot silently exclude nothing.
     */
    public Dataset withoutSources(Collection<String> sources) {
        if (sources == null || sources.isEmpty()) {
            return this;
        }
        checkSources(sources);
        return new Dataset(root, origin + " without " + String.join(", ", sources),
                entries.stream().filter(e -> !sources.contains(e.source())).toList(), problems);
    }

    /** Only the images of the named sources (each must be a source of this dataset). */
    public Dataset onlySources(Collection<String> sources) {
        checkSources(sources);
        return new Dataset(root, origin + " only " + String.join(", ", sources),
                entries.stream().filter(e -> sources.contains(e.source())).toList(), problems);
    }

    /** The distinct sources, sorted. */
    public Set<String> sources() {
        return entries.stream().map(DatasetEntry::source).filter(java.util.Objects::nonNull)
                .collect(java.util.stream.Collectors.toCollection(java.util.TreeSet::new));
    }

    private void checkSources(Collection<String> sources) {
        Set<String> known = sources();
        for (String s : sources) {
            if (!known.contains(s)) {
                throw new IllegalArgumentException("no source '" + s + "' in " + origin + "; its sources are "
                        + (known.isEmpty() ? "none (no source column)" : known));
            }
        }
    }

    public long count(Label label) {
        return entries.stream().filter(e -> e.label() == label).count();
    }

    /** True when at least one entry names its data source (per-source metrics are then reported). */
    public boolean hasSources() {
        return entries.stream().anyMatch(e -> e.source() != null);
    }

    /** An image by its suffix, or a file without an extension that starts like DICOM (as PACS exports name them). */
    private static boolean isImage(Path f) {
        String n = f.getFileName().toString().toLowerCase(Locale.ROOT);
        if (IMAGE_SUFFIXES.stream().anyMatch(n::endsWith)) {
            return true;
        }
        return n.indexOf('.') < 0 && startsLikeDicom(f);
    }

    private static boolean startsLikeDicom(Path f) {
        try (java.io.InputStream in = Files.newInputStream(f)) {
            byte[] head = in.readNBytes(132);
            return head.length == 132 && head[128] == 'D' && head[129] == 'I' && head[130] == 'C' && head[131] == 'M';
        } catch (IOException e) {
            return false;
        }
    }

    private static String firstPresent(Map<String, Integer> header, List<String> names) {
        return names.stream().filter(header::containsKey).findFirst().orElse(null);
    }
}
