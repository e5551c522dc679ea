package org.xrayscreening.trainer.training;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.loss.Loss;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.xrayscreening.models.preprocess.Normalization;
import org.xrayscreening.models.preprocess.Preprocessor;
import org.xrayscreening.trainer.SyntheticData;
import org.xrayscreening.trainer.dataset.Dataset;
import org.xrayscreening.trainer.dataset.PreparedImages;

/** The distillation loss, the teacher's tempered distribution and the lookup of its probabilities per image. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DistillationTest {
    private NDManager manager;

    @BeforeAll
    void engine() {
        manager = NDManager.newBaseManager();
    }

    @AfterAll
    void close() {
        manager.close();
    }

    private NDArray rows(float... values) {
        return manager.create(values, new Shape(values.length / 2, 2));
    }

    @Test
    void lossEqualsTheHandComputedValue() {
        // two images: logits (2, 0) labelled COVID-19, (0, 1) labelled non-COVID; class weights 2 and 0.5;
        // the teacher's P(COVID-19) at T = 1 is 0.3 and 0.8; A = 0.3, T = 2
        float[] classWeights = {2f, 0.5f};
        float weight = 0.3f;
        float t = 2f;
        NDArray logits = rows(2, 0, 0, 1);
        NDArray onehot = rows(1, 0, 0, 1);
        NDArray teacher = rows(concat(Distillation.tempered(0.3f, t), Distillation.tempered(0.8f, t)));

        // hard term: nll = -log softmax(z)[y] = log(1 + e^-2) and log(1 + e^-1), weighted 2 and 0.5
        double nll1 = Math.log(1 + Math.exp(-2));
        double nll2 = Math.log(1 + Math.exp(-1));
        double hard = (2 * nll1 + 0.5 * nll2) / 2.5;
        // soft term: teacher logit difference ln(p / (1 - p)) / T, student softmax(z / T)
        double q1 = sigmoid(Math.log(0.3 / 0.7) / 2);
        double q2 = sigmoid(Math.log(0.8 / 0.2) / 2); // = 2/3
        double s1 = sigmoid(2.0 / 2); // student P(COVID) at T for logits (2, 0)
        double s2 = sigmoid(-1.0 / 2);
        double kl = (kl(q1, s1) + kl(q2, s2)) / 2;
        double expected = (1 - 0.3) * hard + 0.3 * t * t * kl;
        assertThat(q2).isCloseTo(2.0 / 3, within(1e-12));
        // the same number computed independently in Python (math module, float64): 0.36532116050648755
        assertThat(expected).isCloseTo(0.36532116050648755, within(1e-12));

        Loss loss = Losses.distilling(Losses.create(Preset.LossKind.WEIGHTED_CROSS_ENTROPY, classWeights), weight, t);
        float actual = loss.evaluate(new NDList(onehot, teacher), new NDList(logits)).getFloat();
        // float32 arithmetic, and A = 0.3f is 0.3 + 1.2e-8
        assertThat((double) actual).isCloseTo(expected, within(1e-6));
    }

    @Test
    void weightZeroIsExactlyThePresetLoss() {
        Random random = new Random(3);
        float[] z = new float[16];
        float[] y = new float[16];
        float[] q = new float[16];
        for (int i = 0; i < 8; i++) {
            z[2 * i] = (float) random.nextGaussian() * 3;
            z[2 * i + 1] = (float) random.nextGaussian() * 3;
            y[2 * i + random.nextInt(2)] = 1;
            System.arraycopy(Distillation.tempered(random.nextFloat(), 3f), 0, q, 2 * i, 2);
        }
        for (Preset.LossKind kind : Preset.LossKind.values()) {
            Loss plain = Losses.create(kind, new float[] {2.68f, 0.615f});
            float expected = plain.evaluate(new NDList(rows(y)), new NDList(rows(z))).getFloat();
            float actual = Losses.distilling(plain, 0f, 3f).evaluate(new NDList(rows(y), rows(q)), new NDList(rows(z)))
                    .getFloat();
            assertThat(actual).as(kind.name()).isEqualTo(expected);
            // and with A > 0 the teacher changes the loss
            float distilled = Losses.distilling(plain, 0.5f, 3f).evaluate(new NDList(rows(y), rows(q)),
                    new NDList(rows(z))).getFloat();
            assertThat(distilled).as(kind.name()).isNotCloseTo(expected, within(1e-3f));
        }
    }

    @Test
    void aStudentThatMatchesTheTeacherPaysOnlyTheHardTerm() {
        // teacher logits (1.5, -0.5): its P(COVID) at T = 1; a student with the same logits has KL = 0 at any T
        float p = (float) sigmoid(2.0);
        Loss plain = Losses.create(Preset.LossKind.WEIGHTED_CROSS_ENTROPY, new float[] {1f, 1f});
        NDArray logits = rows(1.5f, -0.5f);
        NDArray onehot = rows(0, 1);
        float hard = plain.evaluate(new NDList(onehot), new NDList(logits)).getFloat();
        float both = Losses.distilling(plain, 0.4f, 5f)
                .evaluate(new NDList(onehot, rows(Distillation.tempered(p, 5f))), new NDList(logits)).getFloat();
        assertThat(both).isCloseTo(0.6f * hard, within(1e-5f));
    }

    @Test
    void temperedIsTheSoftmaxOfTheTeachersLogitsOverT() {
        double z0 = 1.3;
        double z1 = -0.4;
        float p = (float) (Math.exp(z0) / (Math.exp(z0) + Math.exp(z1)));
        for (float t : new float[] {1f, 2f, 4f, 10f}) {
            double expected = Math.exp(z0 / t) / (Math.exp(z0 / t) + Math.exp(z1 / t));
            float[] q = Distillation.tempered(p, t);
            assertThat((double) q[0]).as("T=" + t).isCloseTo(expected, within(1e-6));
            assertThat(q[0] + q[1]).isCloseTo(1f, within(1e-6f));
        }
        // a saturated teacher (float P exactly 1 or 0) stays finite
        assertThat(Distillation.tempered(1f, 1f)[0]).isBetween(0.99f, 1f);
        assertThat(Distillation.tempered(0f, 4f)[1]).isBetween(0.98f, 1f);
    }

    @Test
    void badSettingsAreRefused() {
        Loss plain = Losses.create(Preset.LossKind.WEIGHTED_CROSS_ENTROPY, new float[] {1f, 1f});
        assertThatThrownBy(() -> Losses.distilling(plain, 1.5f, 2f)).hasMessageContaining("[0, 1]");
        assertThatThrownBy(() -> Distillation.requested("resnet50@x", "r", 0.5f, 0f))
                .hasMessageContaining("--distill-temperature");
        assertThatThrownBy(() -> Distillation.requested("resnet50@x", "r", -0.1f, 2f))
                .hasMessageContaining("--distill-weight");
        assertThatThrownBy(() -> Losses.distilling(plain, 0.5f, 2f).evaluate(new NDList(rows(1, 0)),
                new NDList(rows(1, 0)))).hasMessageContaining("teacher");
    }

    @Test
    void teacherProbabilitiesAreLookedUpByImageNotByPosition(@TempDir Path tmp) throws Exception {
        Path data = SyntheticData.write(tmp.resolve("data"), 3, 4, 48);
        PreparedImages train = PreparedImages.load(Dataset.load(data).entries(),
                new Preprocessor(Normalization.ZERO_TO_ONE, 32));
        assertThat(train.size()).isEqualTo(7);
        // a distinct probability per image, written in reverse order: position i of the file is not image i
        Map<String, Float> byName = new HashMap<>();
        float[] inOrder = new float[train.size()];
        for (int i = 0; i < train.size(); i++) {
            inOrder[i] = (i + 1) / 10f;
            byName.put(train.entry(i).name(), inOrder[i]);
        }
        StringBuilder csv = new StringBuilder("file,p_covid\n");
        for (int i = train.size() - 1; i >= 0; i--) {
            csv.append(train.entry(i).name()).append(',').append(inOrder[i]).append('\n');
        }
        Path file = tmp.resolve(Distillation.TEACHER_PROBABILITIES);
        Files.writeString(file, csv);
        assertThat(TeacherProbabilities.read(file)).isEqualTo(byName);
        assertThat(TeacherProbabilities.align(TeacherProbabilities.read(file), train)).containsExactly(inOrder);

        // written by write() and read back: the same per-image values
        Path again = tmp.resolve("again.csv");
        TeacherProbabilities.write(again, train, inOrder);
        assertThat(TeacherProbabilities.align(TeacherProbabilities.read(again), train)).containsExactly(inOrder);

        // an image the teacher never scored is an error naming it, not a silent 0
        byName.remove(train.entry(4).name());
        assertThatThrownBy(() -> TeacherProbabilities.align(byName, train))
                .hasMessageContaining(train.entry(4).name());
    }

    private static float[] concat(float[] a, float[] b) {
        float[] out = new float[a.length + b.length];
        System.arraycopy(a, 0, out, 0, a.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    private static double sigmoid(double x) {
        return 1 / (1 + Math.exp(-x));
    }

    /** KL(q || s) of two two-class distributions given by their first probability. */
    private static double kl(double q, double s) {
        return q * Math.log(q / s) + (1 - q) * Math.log((1 - q) / (1 - s));
    }
}
