package org.xrayscreening.trainer.evaluation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.xrayscreening.trainer.dataset.DatasetEntry;
import org.xrayscreening.trainer.dataset.Label;

class PrecisionAgreementTest {
    /** 4 COVID-19 then 6 non-COVID images. */
    private static final List<DatasetEntry> ENTRIES = entries(4, 6);

    @Test
    void identicalScoresAgreeExactly() {
        float[] p = {0.9f, 0.8f, 0.6f, 0.3f, 0.1f, 0.2f, 0.55f, 0.05f, 0.4f, 0.15f};
        PrecisionAgreement a = PrecisionAgreement.of("m@v", "bf16", scores(p), scores(p.clone()), 0.5);
        assertThat(a.aucDelta()).isZero();
        assertThat(a.sensitivityDelta()).isZero();
        assertThat(a.specificityDelta()).isZero();
        assertThat(a.decisionsChanged()).isZero();
        assertThat(a.passes()).isTrue();
    }

    @Test
    void oneCovidCaseCrossingTheThresholdCostsAQuarterOfSensitivity() {
        float[] fp32 = {0.9f, 0.8f, 0.6f, 0.51f, 0.1f, 0.2f, 0.3f, 0.05f, 0.4f, 0.15f};
        float[] bf16 = fp32.clone();
        bf16[3] = 0.49f; // 1 of 4 positives now below 0.5; ranking unchanged (0.49 still above every negative)
        PrecisionAgreement a = PrecisionAgreement.of("m@v", "bf16", scores(fp32), scores(bf16), 0.5);
        assertThat(a.sensitivityDelta()).isCloseTo(-0.25, within(1e-12));
        assertThat(a.specificityDelta()).isZero();
        assertThat(a.aucDelta()).isZero();
        assertThat(a.decisionsChanged()).isEqualTo(1);
        assertThat(a.maxProbabilityDelta()).isCloseTo(0.02, within(1e-6));
        assertThat(a.meanProbabilityDelta()).isCloseTo(0.002, within(1e-6));
        assertThat(a.passes()).isFalse();
        assertThat(PrecisionAgreement.markdown(List.of(a))).contains("| m@v | bf16 | 10 |").contains("**no**");
    }

    @Test
    void aRankSwapMovesTheAuc() {
        float[] fp32 = {0.9f, 0.8f, 0.6f, 0.45f, 0.1f, 0.2f, 0.3f, 0.05f, 0.4f, 0.15f};
        float[] bf16 = fp32.clone();
        bf16[8] = 0.46f; // a negative now outranks one positive: 1 of 24 pairs flips, AUC 1 -> 23/24
        PrecisionAgreement a = PrecisionAgreement.of("m@v", "bf16", scores(fp32), scores(bf16), 0.5);
        assertThat(a.aucDelta()).isCloseTo(-1.0 / 24, within(1e-12));
        assertThat(a.sensitivityDelta()).isZero();
        assertThat(a.passes()).isFalse();
    }

    @Test
    void differentImagesAreRefused() {
        float[] p = new float[10];
        ModelScores other = new ModelScores("b", entries(5, 5), p, List.of(), new float[0], null);
        assertThatThrownBy(() -> PrecisionAgreement.of("m", "bf16", scores(p), other, 0.5))
                .isInstanceOf(IllegalArgumentException.class);
    }

    private static ModelScores scores(float[] p) {
        return new ModelScores("m", ENTRIES, p, List.of(), new float[0], null);
    }

    private static List<DatasetEntry> entries(int covid, int nonCovid) {
        List<DatasetEntry> list = new ArrayList<>();
        for (int i = 0; i < covid + nonCovid; i++) {
            String name = "img" + i + ".jpg";
            list.add(new DatasetEntry(name, Path.of(name), i < covid ? Label.COVID : Label.NON_COVID, "p" + i, "src"));
        }
        return list;
    }
}
