package org.xrayscreening.trainer.dataset;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xrayscreening.trainer.SyntheticData;
import org.xrayscreening.trainer.cli.SyntheticDatasetCommand;

/**
 * Several collections read as one dataset, on two synthetic hospitals whose file names and patient ids clash
 * (both are written by the same generator): hospital A's manifest names sources, hospital B's has no source
 * column.
 */
class MultiCollectionDatasetTest {
    private static final int A_IMAGES = 40;
    private static final int B_IMAGES = 32;

    @TempDir
    Path tmp;

    Path hospitalA;
    Path hospitalB;

    @BeforeEach
    void twoHospitals() throws Exception {
        hospitalA = SyntheticDatasetCommand.write(tmp.resolve("hospital-a"), A_IMAGES, 32, 1, 2);
        hospitalB = SyntheticDatasetCommand.write(tmp.resolve("hospital-b"), B_IMAGES, 32, 2, 2);
        dropSourceColumn(hospitalB.resolve(Dataset.MANIFEST));
    }

    @Test
    void theCollectionsReallyClash() throws Exception {
        Set<String> namesA = names(Dataset.load(hospitalA));
        Set<String> namesB = names(Dataset.load(hospitalB));
        assertThat(namesA).containsAll(namesB); // B's 32 file names are A's first 32
        assertThat(patients(Dataset.load(hospitalA))).containsAll(patients(Dataset.load(hospitalB)));
        assertThat(Dataset.load(hospitalB).hasSources()).isFalse();
    }

    @Test
    void keysAreUniqueAndPrefixedWithTheCollection() throws Exception {
        Dataset d = Dataset.load(List.of(hospitalA, hospitalB));
        assertThat(d.entries()).hasSize(A_IMAGES + B_IMAGES);
        assertThat(names(d)).hasSize(A_IMAGES + B_IMAGES);
        assertThat(d.entries()).allSatisfy(e -> {
            String collection = e.name().substring(0, e.name().indexOf('/'));
            assertThat(collection).isIn("hospital-a", "hospital-b");
            // the key still names the file that is read
            assertThat(e.file()).isEqualTo(tmp.resolve(collection).resolve(e.name().substring(collection.length() + 1)));
            assertThat(e.file()).isRegularFile();
        });
        assertThat(d.count(Label.COVID)).isEqualTo(A_IMAGES / 2 + B_IMAGES / 2);
        assertThat(d.origin()).contains(hospitalA.resolve(Dataset.MANIFEST).toString())
                .contains(hospitalB.resolve(Dataset.MANIFEST).toString());
        assertThat(d.root()).isEqualTo(tmp);
    }

    @Test
    void patientsAreNamespacedPerCollectionAndNeverSpanTwoSplits() throws Exception {
        Dataset a = Dataset.load(hospitalA);
        Dataset b = Dataset.load(hospitalB);
        Dataset d = Dataset.load(List.of(hospitalA, hospitalB));
        // "covid-patient-0000" of A and of B are two patients: as many groups as both collections have
        assertThat(groups(d)).hasSize(groups(a).size() + groups(b).size());
        assertThat(d.entries()).allSatisfy(e -> assertThat(e.patientId()).startsWith(e.name().substring(0,
                e.name().indexOf('/') + 1)));
        boolean sharedIdSplitApart = false;
        for (long seed = 1; seed <= 20; seed++) {
            DatasetSplit split = DatasetSplit.of(d, new SplitSpec(seed, 0.25, 0.30));
            Map<String, Split> patientSplit = new HashMap<>();
            for (Split s : Split.values()) {
                for (DatasetEntry e : split.get(s)) {
                    Split before = patientSplit.putIfAbsent(e.groupKey(), s);
                    assertThat(before == null || before == s).as("seed %d: a patient in %s and %s", seed, before, s)
                            .isTrue();
                }
            }
            assertThat(patientSplit.values().stream().distinct()).hasSize(3);
            sharedIdSplitApart |= !patientSplit.get("patient:hospital-a/covid-patient-0000")
                    .equals(patientSplit.get("patient:hospital-b/covid-patient-0000"));
            // label-stratified over the combined set: each label's test share is near the requested quarter
            for (Label label : Label.values()) {
                long all = d.count(label);
                long test = split.get(Split.TEST).stream().filter(e -> e.label() == label).count();
                assertThat((double) test / all).as("seed %d %s test share", seed, label).isBetween(0.18, 0.32);
            }
        }
        assertThat(sharedIdSplitApart).as("the same raw patient id of two hospitals is split independently").isTrue();
    }

    @Test
    void aCollectionWithoutSourceColumnIsItsOwnSourceAndSourcesSelectAcrossCollections() throws Exception {
        Dataset d = Dataset.load(List.of(hospitalA, hospitalB));
        assertThat(d.sources()).containsExactly("hospital-b", "synthetic-a", "synthetic-b");
        assertThat(d.entries().stream().filter(e -> e.name().startsWith("hospital-b/")))
                .allSatisfy(e -> assertThat(e.source()).isEqualTo("hospital-b"));

        Dataset withoutB = d.withoutSources(List.of("hospital-b"));
        assertThat(withoutB.entries()).hasSize(A_IMAGES).allSatisfy(e -> assertThat(e.name()).startsWith("hospital-a/"));
        assertThat(d.onlySources(List.of("hospital-b")).entries()).hasSize(B_IMAGES);
        assertThat(d.onlySources(List.of("synthetic-a", "hospital-b")).entries())
                .hasSize(B_IMAGES + A_IMAGES / 2);
        assertThatThrownBy(() -> d.withoutSources(List.of("hospital-c")))
                .hasMessageContaining("[hospital-b, synthetic-a, synthetic-b]");
        // one collection alone keeps today's behaviour: no source where its manifest names none
        assertThat(Dataset.load(List.of(hospitalB)).hasSources()).isFalse();
    }

    @Test
    void theDigestCoversEveryCollectionAndNotTheOrderTheyAreGiven() throws Exception {
        SplitSpec spec = new SplitSpec(42, 0.25, 0.30);
        String combined = DatasetSplit.of(Dataset.load(List.of(hospitalA, hospitalB)), spec).digest();
        assertThat(DatasetSplit.of(Dataset.load(List.of(hospitalB, hospitalA)), spec).digest()).isEqualTo(combined);
        assertThat(combined).isNotEqualTo(DatasetSplit.of(Dataset.load(hospitalA), spec).digest())
                .isNotEqualTo(DatasetSplit.of(Dataset.load(hospitalB), spec).digest());
        // a collection given as its manifest file is the same collection
        assertThat(DatasetSplit.of(Dataset.load(List.of(hospitalA.resolve(Dataset.MANIFEST), hospitalB)), spec)
                .digest()).isEqualTo(combined);
        // one changed label in one collection changes the combined digest
        Path manifest = hospitalB.resolve(Dataset.MANIFEST);
        Files.writeString(manifest, Files.readString(manifest).replaceFirst("covid/synthetic-00000.png,covid",
                "covid/synthetic-00000.png,non-covid"));
        assertThat(DatasetSplit.of(Dataset.load(List.of(hospitalA, hospitalB)), spec).digest()).isNotEqualTo(combined);
    }

    /**
     * One collection reads exactly as before collections could be combined: the digests below were computed by
     * the trainer before that change (commit 0399737), on the same generated data, so models published then
     * still match their {@code trainingDataDigest}.
     */
    @Test
    void aSingleCollectionKeepsItsDigest() throws Exception {
        SplitSpec spec = new SplitSpec(42, 0.25, 0.30);
        Path generated = SyntheticDatasetCommand.write(tmp.resolve("pinned-a"), 40, 32, 1, 2);
        Path written = SyntheticData.write(tmp.resolve("pinned-b"), 9, 13, 16);
        for (Path p : List.of(generated, generated.resolve(Dataset.MANIFEST))) {
            assertThat(DatasetSplit.of(Dataset.load(List.of(p)), spec).digest())
                    .isEqualTo("sha256:19a168b892322b4bab438c734d17e80b498c9f42dcdff16add49e13b0ca488dd");
        }
        assertThat(DatasetSplit.of(Dataset.load(List.of(written)), spec).digest())
                .isEqualTo("sha256:d068aa62c80cbba6157400776ad06e2f7fce382e85cadc87be763e7e409e6e3f");
        Dataset single = Dataset.load(List.of(written));
        assertThat(single.entries()).isEqualTo(Dataset.load(written).entries());
        assertThat(single.entries().get(0).name()).isEqualTo("covid/img0.png"); // no prefix
    }

    @Test
    void clashingOrRepeatedCollectionsAndProblemsAreNamed() throws Exception {
        Path otherA = SyntheticDatasetCommand.write(tmp.resolve("elsewhere").resolve("hospital-a"), 4, 32, 3, 2);
        assertThatThrownBy(() -> Dataset.load(List.of(hospitalA, otherA)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("two datasets are named 'hospital-a'")
                .hasMessageContaining(otherA.toString());
        assertThatThrownBy(() -> Dataset.load(List.of(hospitalA, hospitalB, hospitalA.resolve(Dataset.MANIFEST))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("given twice");
        assertThatThrownBy(() -> Dataset.load(List.<Path>of())).isInstanceOf(IllegalArgumentException.class);

        Files.writeString(hospitalB.resolve(Dataset.MANIFEST), "covid/extra.png,maybe,p9\n",
                java.nio.file.StandardOpenOption.APPEND);
        Dataset d = Dataset.load(List.of(hospitalA, hospitalB));
        assertThat(d.problems()).singleElement().asString().startsWith("hospital-b: ").contains("unknown label");
    }

    private static Set<String> names(Dataset d) {
        return d.entries().stream().map(DatasetEntry::name).collect(Collectors.toSet());
    }

    private static Set<String> patients(Dataset d) {
        return d.entries().stream().map(DatasetEntry::patientId).collect(Collectors.toSet());
    }

    private static Set<String> groups(Dataset d) {
        return d.entries().stream().map(DatasetEntry::groupKey).collect(Collectors.toSet());
    }

    /** Rewrites a manifest of SyntheticDatasetCommand (file,label,source_repo,patient) without its source column. */
    static void dropSourceColumn(Path manifest) throws Exception {
        List<String> lines = Files.readAllLines(manifest);
        StringBuilder sb = new StringBuilder();
        for (String line : lines) {
            String[] f = line.split(",", -1);
            sb.append(f[0]).append(',').append(f[1]).append(',').append(f[3]).append('\n');
        }
        Files.writeString(manifest, sb.toString());
    }
}
