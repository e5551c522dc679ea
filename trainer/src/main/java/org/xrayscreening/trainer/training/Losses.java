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
