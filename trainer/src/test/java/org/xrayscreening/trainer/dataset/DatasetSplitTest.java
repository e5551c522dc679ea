package org.xrayscreening.trainer.dataset;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class DatasetSplitTest {

    /** 600 images: patients with 1-4 images, 10% without patient id, ~1:4 covid, a few mixed-label patients. */
    private static List<DatasetEntry> entries(long seed) {
        Random r = new Random(seed);
        List<DatasetEntry> list = new ArrayList<>();
        int i = 0;
        int patient = 0;
        while (list.size() < 600) {
            boolean covid = r.nextDouble() < 0.2;
            int n = 1 + r.nextInt(4);
            boolean noId = r.nextDouble() < 0.1;
            String pid = noId ? null : "p" + patient++;
            for (int k = 0; k < n; k++) {
                Label label = covid ? Label.COVID : Label.NON_COVID;
                if (pid != null && k == 1 && r.nextDouble() < 0.05) {
                    label = label == Label.COVID ? Label.NON_COVID : Label.COVID; // a mixed-label patient
                }
                String name = (label.id()) + "/img" + (i++) + ".jpg";
                list.add(new DatasetEntry(name, Path.of("/nowhere", name), label, pid, "src" + (i % 3)));
            }
        }
        return list;
    }

    @Test
    void patientDisjointAndStratifiedForManySeeds() {
        List<DatasetEntry> all = entries(7);
        long covid = all.stream().filter(e -> e.label().isCovid()).count();
        long non = all.size() - covid;
        // non-COVID images of patients who also have a COVID image follow the COVID stratum's split
        Map<String, Boolean> patientHasCovid = new HashMap<>();
        all.stream().filter(e -> e.patientId() != null)
                .forEach(e -> patientHasCovid.merge(e.patientId(), e.label().isCovid(), Boolean::logicalOr));
        long nonCovidInMixed = all.stream().filter(e -> !e.label().isCovid() && e.patientId() != null
                && patientHasCovid.get(e.patientId())).count();
        assertThat(nonCovidInMixed).isPositive();
        for (long seed = 0; seed < 200; seed++) {
            DatasetSplit split = DatasetSplit.of(all, SplitSpec.paper(seed));
            Map<String, Split> patientSplit = new HashMap<>();
            int total = 0;
            for (Split s : Split.values()) {
                for (DatasetEntry e : split.get(s)) {
                    total++;
                    if (e.patientId() != null) {
                        Split before = patientSplit.putIfAbsent(e.patientId(), s);
                        assertThat(before == null || before == s)
                                .as("seed %d: patient %s in %s and %s", seed, e.patientId(), before, s).isTrue();
                    }
                }
            }
            assertThat(total).isEqualTo(all.size());
            for (Label label : Label.values()) {
                long n = label == Label.COVID ? covid : non;
                // whole groups of up to 4 images (and a few mixed-label patients) decide the granularity
                long loose = label == Label.COVID ? 0 : nonCovidInMixed;
                org.assertj.core.data.Offset<Double> tol = org.assertj.core.data.Offset.offset(0.01 + (4.0 + loose) / n);
                double test = count(split.get(Split.TEST), label) / (double) n;
                double val = count(split.get(Split.VALIDATION), label) / (double) n;
                double train = count(split.get(Split.TRAIN), label) / (double) n;
                assertThat(test).as("seed %d %s test share", seed, label).isCloseTo(0.25, tol);
                assertThat(val).as("seed %d %s validation share", seed, label).isCloseTo(0.75 * 0.30, tol);
                assertThat(train).as("seed %d %s train share", seed, label).isCloseTo(0.75 * 0.70, tol);
            }
        }
    }

    @Test
    void sameSeedSameSplitOtherSeedOtherDigest() {
        List<DatasetEntry> all = entries(3);
        DatasetSplit a = DatasetSplit.of(all, SplitSpec.paper(1));
        List<DatasetEntry> shuffled = new ArrayList<>(all);
        java.util.Collections.shuffle(shuffled, new Random(5));
        DatasetSplit b = DatasetSplit.of(shuffled, SplitSpec.paper(1));
        assertThat(b.get(Split.TEST)).isEqualTo(a.get(Split.TEST));
        assertThat(b.digest()).isEqualTo(a.digest()).startsWith("sha256:");
        assertThat(DatasetSplit.of(all, SplitSpec.paper(2)).digest()).isNotEqualTo(a.digest());
    }

    @Test
    void imagesWithoutPatientIdAreTheirOwnGroup() {
        List<DatasetEntry> all = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            all.add(new DatasetEntry("x" + i + ".jpg", Path.of("x" + i + ".jpg"), i < 8 ? Label.COVID : Label.NON_COVID,
                    null, null));
        }
        DatasetSplit split = DatasetSplit.of(all, SplitSpec.paper(9));
        assertThat(split.get(Split.TEST)).hasSize(10);
        assertThat(count(split.get(Split.TEST), Label.COVID)).isEqualTo(2);
    }

    private static long count(List<DatasetEntry> l, Label label) {
        return l.stream().filter(e -> e.label() == label).count();
    }
}
