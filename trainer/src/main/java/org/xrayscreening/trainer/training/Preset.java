package org.xrayscreening.trainer.training;

import java.util.Locale;

/**
 * Training recipes.
 *
 * <ul>
 *   <li>{@link #PAPER}: Sethi et al. 2020 as written: Adadelta ({@link KerasAdadelta}: Keras 2's defaults,
 *       learning rate 1.0, rho 0.95, epsilon 1e-7), mean squared error between the
 *       softmax output and the one-hot target, batch 32, no augmentation, no class weighting, every epoch
 *       run (no early stopping), the last epoch kept.</li>
 *   <li>{@link #DEFAULT}: Adam (lr 1e-3, or 1e-4 when starting from ImageNet weights), cross-entropy with
 *       class weights {@code n / (2 n_c)} for the ~1:4 COVID:non-COVID imbalance (MSE on softmax outputs
 *       has vanishing gradients for confidently wrong predictions, and the unweighted loss lets the
 *       majority class dominate), batch 16 (twice the optimizer steps per epoch on a CPU budget), light
 *       augmentation suited to radiographs (see {@link Augmenter}: no horizontal flip), and early stopping
 *       on validation loss (patience 3) with the best epoch's weights kept.</li>
 * </ul>
 */
public enum Preset {
    PAPER("paper", OptimizerKind.ADADELTA, LossKind.MSE_SOFTMAX, 32, 1.0f, false, false, 0),
    DEFAULT("default", OptimizerKind.ADAM, LossKind.WEIGHTED_CROSS_ENTROPY, 16, 1e-3f, true, true, 3);

    public enum OptimizerKind { ADADELTA, ADAM }

    public enum LossKind { MSE_SOFTMAX, WEIGHTED_CROSS_ENTROPY }

    private final String id;
    private final OptimizerKind optimizer;
    private final LossKind loss;
    private final int batchSize;
    private final float learningRate;
    private final boolean augment;
    private final boolean keepBest;
    private final int patience;

    Preset(String id, OptimizerKind optimizer, LossKind loss, int batchSize, float learningRate, boolean augment,
            boolean keepBest, int patience) {
        this.id = id;
        this.optimizer = optimizer;
        this.loss = loss;
        this.batchSize = batchSize;
        this.learningRate = learningRate;
        this.augment = augment;
        this.keepBest = keepBest;
        this.patience = patience;
    }

    public String id() {
        return id;
    }

    public OptimizerKind optimizer() {
        return optimizer;
    }

    public LossKind loss() {
        return loss;
    }

    public int batchSize() {
        return batchSize;
    }

    public float learningRate() {
        return learningRate;
    }

    public boolean augment() {
        return augment;
    }

    /** Whether the weights of the epoch with the lowest validation loss are the result (else the last epoch's). */
    public boolean keepBest() {
        return keepBest;
    }

    /** Epochs without a lower validation loss before stopping; 0 = never stop early. */
    public int patience() {
        return patience;
    }

    public static Preset parse(String value) {
        String v = value.trim().toLowerCase(Locale.ROOT);
        for (Preset p : values()) {
            if (p.id.equals(v)) {
                return p;
            }
        }
        throw new IllegalArgumentException("unknown preset '" + value + "'; expected paper or default");
    }
}
