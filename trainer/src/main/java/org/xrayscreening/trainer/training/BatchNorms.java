package org.xrayscreening.trainer.training;

import ai.djl.nn.Block;
import ai.djl.nn.norm.BatchNorm;
import java.lang.reflect.Field;

/**
 * Sets the momentum of every batch-norm layer of a block, for training.
 *
 * <p>Why: the project's networks use Keras' momentum 0.99 (the running statistics move 1% per step),
 * made for ImageNet-length runs. A CPU run here makes 100-400 optimizer steps; after 200 steps 13% of
 * the initial (mean 0, variance 1) statistics would remain, so evaluation-mode outputs (validation, test,
 * serving) would not match what the network was trained on. 0.9 (PyTorch's default) tracks the batch
 * statistics within ~30 steps. DJL has no setter and the field is private, so it is set reflectively; the
 * momentum is not part of the saved parameters (inference uses the running statistics only).
 */
public final class BatchNorms {
    private static final Field MOMENTUM;

    static {
        try {
            MOMENTUM = BatchNorm.class.getDeclaredField("momentum");
            MOMENTUM.setAccessible(true);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private BatchNorms() {}

    /** @return how many batch-norm layers were changed */
    public static int setMomentum(Block block, float momentum) {
        int n = 0;
        if (block instanceof BatchNorm bn) {
            try {
                MOMENTUM.setFloat(bn, momentum);
            } catch (IllegalAccessException e) {
                throw new IllegalStateException(e);
            }
            n++;
        }
        for (Block child : block.getChildren().values()) {
            n += setMomentum(child, momentum);
        }
        return n;
    }

    public static float momentum(BatchNorm bn) {
        try {
            return MOMENTUM.getFloat(bn);
        } catch (IllegalAccessException e) {
            throw new IllegalStateException(e);
        }
    }
}
