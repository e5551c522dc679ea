package org.xrayscreening.trainer.training;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.loss.Loss;

/** The two training losses; labels are one-hot (N, 2) float, predictions (N, 2) logits. */
public final class Losses {
    private Losses() {}

    public static Loss create(Preset.LossKind kind, float[] classWeights) {
        return switch (kind) {
            case MSE_SOFTMAX -> new MseSoftmax();
            case WEIGHTED_CROSS_ENTROPY -> new WeightedCrossEntropy(classWeights);
        };
    }

    /**
     * Knowledge distillation (Hinton et al. 2015) on top of {@code base}: {@code (1 - weight) * base + weight * T^2 *
     * KL(teacher_T || student_T)}, where {@code x_T = softmax(logits / T)} and the KL divergence is summed over the
     * two classes and averaged over the batch. The T^2 keeps the soft term's gradient on the scale of the hard
     * term's when T changes. Labels: the one-hot targets, then the teacher's tempered probabilities (N, 2), which
     * are constants (no gradient flows into the teacher).
     */
    public static Loss distilling(Loss base, float weight, float temperature) {
        return new Distilling(base, weight, temperature);
    }

    static final class Distilling extends Loss {
        private final Loss base;
        private final float weight;
        private final float temperature;

        Distilling(Loss base, float weight, float temperature) {
            super("distilling_" + base.getName());
            if (!(weight >= 0 && weight <= 1)) {
                throw new IllegalArgumentException("distillation weight must be in [0, 1], was " + weight);
            }
            if (!(temperature > 0) || Float.isInfinite(temperature)) {
                throw new IllegalArgumentException("distillation temperature must be > 0, was " + temperature);
            }
            this.base = base;
            this.weight = weight;
            this.temperature = temperature;
        }

        @Override
        public NDArray evaluate(NDList labels, NDList predictions) {
            if (labels.size() != 2) {
                throw new IllegalArgumentException("distillation needs the one-hot targets and the teacher's"
                        + " probabilities, got " + labels.size() + " label arrays");
            }
            NDArray hard = base.evaluate(new NDList(labels.get(0)), predictions);
            NDArray teacher = labels.get(1);
            NDArray studentLog = predictions.head().div(temperature).logSoftmax(1);
            // q log q is 0 at q = 0: clip inside the log only, so a saturated teacher adds no NaN
            NDArray kl = teacher.mul(teacher.clip(1e-12f, 1f).log().sub(studentLog)).sum(new int[] {1}).mean();
            return hard.mul(1 - weight).add(kl.mul(weight * temperature * temperature));
        }
    }

    /** Keras' {@code mean_squared_error} on softmax outputs vs the one-hot target: mean over samples and classes. */
    static final class MseSoftmax extends Loss {
        MseSoftmax() {
            super("mse_softmax");
        }

        @Override
        public NDArray evaluate(NDList labels, NDList predictions) {
            NDArray p = predictions.head().softmax(1);
            return p.sub(labels.head()).square().mean();
        }
    }

    /**
     * Cross-entropy with per-class weights, normalized by the summed weights of the batch (PyTorch's
     * {@code CrossEntropyLoss(weight=...)}, reduction mean).
     */
    static final class WeightedCrossEntropy extends Loss {
        private final float[] weights;

        WeightedCrossEntropy(float[] weights) {
            super("weighted_cross_entropy");
            this.weights = weights.clone();
        }

        @Override
        public NDArray evaluate(NDList labels, NDList predictions) {
            NDArray logits = predictions.head();
            NDArray onehot = labels.head();
            NDArray w = onehot.getManager().create(weights, new Shape(weights.length, 1));
            NDArray sampleWeights = onehot.matMul(w).reshape(-1);
            NDArray nll = onehot.mul(logits.logSoftmax(1)).sum(new int[] {1}).neg();
            return nll.mul(sampleWeights).sum().div(sampleWeights.sum());
        }
    }
}
