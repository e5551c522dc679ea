package org.xrayscreening.trainer.dataset;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * A seeded split of a dataset that is grouped by patient (all images of one patient, or of one image
 * without a patient id, land in the same split) and stratified by label (each label's images are split in
 * the requested proportions, as closely as whole groups allow).
 *
 * <p>Algorithm, per stratum (a group's stratum is COVID if any of its images is COVID, else non-COVID; sizes
 * count the images of the stratum's label): the
 * groups are sorted by key and shuffled with the seed; walking them in that order, a group goes to the test
 * split while the test image count stays within its target ({@code testFraction} of the stratum's images;
 * later, smaller groups fill the gap), then one more group if that lands closer to the target; the remaining groups are split into validation / train the same way. The
 * result depends only on the seed, the fractions and the set of (name, label, patient) entries.
 */
public final class DatasetSplit {
    private final SplitSpec spec;
    private final Map<Split, List<DatasetEntry>> parts;

    private DatasetSplit(SplitSpec spec, Map<Split, List<DatasetEntry>> parts) {
        this.spec = spec;
        this.parts = parts;
    }

    public static DatasetSplit of(Dataset dataset, SplitSpec spec) {
        return of(dataset.entries(), spec);
    }

    public static DatasetSplit of(List<DatasetEntry> entries, SplitSpec spec) {
        Map<String, List<DatasetEntry>> groups = new LinkedHashMap<>();
        List<DatasetEntry> sorted = new ArrayList<>(entries);
        sorted.sort(Comparator.comparing(DatasetEntry::name));
        for (DatasetEntry e : sorted) {
            groups.computeIfAbsent(e.groupKey(), k -> new ArrayList<>()).add(e);
        }
        Map<Label, List<List<DatasetEntry>>> strata = new EnumMap<>(Label.class);
        List<String> keys = new ArrayList<>(groups.keySet());
        Collections.sort(keys);
        for (String key : keys) {
            List<DatasetEntry> g = groups.get(key);
            Label stratum = g.stream().anyMatch(e -> e.label().isCovid()) ? Label.COVID : Label.NON_COVID;
            strata.computeIfAbsent(stratum, k -> new ArrayList<>()).add(g);
        }
        Map<Split, List<DatasetEntry>> parts = new EnumMap<>(Split.class);
        for (Split s : Split.values()) {
            parts.put(s, new ArrayList<>());
        }
        for (Label label : Label.values()) {
            List<List<DatasetEntry>> stratumGroups = strata.getOrDefault(label, List.of());
            // one RNG per stratum, so adding images of one label does not reshuffle the other
            Random random = new Random(spec.seed() * 31 + label.ordinal());
            List<List<DatasetEntry>> order = new ArrayList<>(stratumGroups);
            Collections.shuffle(order, random);
            List<List<DatasetEntry>> rest = new ArrayList<>();
            take(order, label, spec.testFraction(), parts.get(Split.TEST), rest);
            List<List<DatasetEntry>> train = new ArrayList<>();
            take(rest, label, spec.validationFraction(), parts.get(Split.VALIDATION), train);
            train.forEach(parts.get(Split.TRAIN)::addAll);
        }
        for (List<DatasetEntry> l : parts.values()) {
            l.sort(Comparator.comparing(DatasetEntry::name));
        }
        Map<Split, List<DatasetEntry>> frozen = new EnumMap<>(Split.class);
        parts.forEach((k, v) -> frozen.put(k, List.copyOf(v)));
        return new DatasetSplit(spec, frozen);
    }

    /** Moves groups into {@code taken} until it holds {@code fraction} of the groups' images of {@code label}. */
    private static void take(List<List<DatasetEntry>> groups, Label label, double fraction, List<DatasetEntry> taken,
            List<List<DatasetEntry>> rest) {
        int total = groups.stream().mapToInt(g -> size(g, label)).sum();
        double target = fraction * total;
        int count = 0;
        List<List<DatasetEntry>> skipped = new ArrayList<>();
        // first fit in the shuffled order, never above the target (small groups fill the gaps) ...
        for (List<DatasetEntry> g : groups) {
            if (count + size(g, label) <= target) {
                taken.addAll(g);
                count += size(g, label);
            } else {
                skipped.add(g);
            }
        }
        // ... then one more group if that lands closer to the target
        for (List<DatasetEntry> g : skipped) {
            if (Math.abs(count + size(g, label) - target) < Math.abs(count - target)) {
                taken.addAll(g);
                count += size(g, label);
            } else {
                rest.add(g);
            }
        }
    }

    /** Images of the stratum's label in a group (a mixed-label patient's other images ride along). */
    private static int size(List<DatasetEntry> group, Label label) {
        return (int) group.stream().filter(e -> e.label() == label).count();
    }

    public SplitSpec spec() {
        return spec;
    }

    public List<DatasetEntry> get(Split split) {
        return parts.get(split);
    }

    public Split splitOf(DatasetEntry entry) {
        for (Map.Entry<Split, List<DatasetEntry>> e : parts.entrySet()) {
            if (e.getValue().contains(entry)) {
                return e.getKey();
            }
        }
        return null;
    }

    /**
     * sha256 over the sorted lines {@code name \t label \t split}: names the exact images, labels and split a
     * model was trained and selected on (goes into the model metadata as the training data digest).
     */
    public String digest() {
        List<String> lines = new ArrayList<>();
        parts.forEach((split, list) -> list.forEach(e -> lines.add(e.name() + "\t" + e.label().id() + "\t" + split.id())));
        Collections.sort(lines);
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            for (String line : lines) {
                md.update(line.getBytes(StandardCharsets.UTF_8));
                md.update((byte) '\n');
            }
            return "sha256:" + HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** e.g. "train 1277 (238 covid), validation 548 (102 covid), test 610 (114 covid)". */
    public String summary() {
        StringBuilder sb = new StringBuilder();
        for (Split s : Split.values()) {
            List<DatasetEntry> l = parts.get(s);
            if (sb.length() > 0) {
                sb.append(", ");
            }
            sb.append(s.id()).append(' ').append(l.size()).append(" (")
                    .append(l.stream().filter(e -> e.label().isCovid()).count()).append(" covid)");
        }
        return sb.toString();
    }
}
