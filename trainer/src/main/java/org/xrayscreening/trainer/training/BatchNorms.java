package org.xrayscreening.trainer.training;

import ai.djl.nn.Block;
import ai.djl.nn.norm.BatchNorm;
import java.lang.reflect.Field;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.xrayscreening.models.network.BatchNormNoScale;

/**
 * Sets the momentum of every batch-norm layer of a block (DJL's {@link BatchNorm} and the project's
 * {@link BatchNormNoScale}, InceptionV3's), for training.
 *
 * <p>Why: the project's networks use Keras' momentum 0.99 (the running statistics move 1% per step),
 * made for ImageNet-length runs. A CPU run here makes 25-400 optimizer steps; after 200 steps 13% of
 * the initial (mean 0, variance 1) statistics would remain, so evaluation-mode outputs (validation, test,
 * serving) would not match what the network was trained on. 0.9 (PyTorch's default) tracks the batch
 * statistics within ~30 steps. Neither class has a setter and the fields are private, so they are set
 * reflectively; the momentum is not part of the saved parameters (inference uses the running statistics only).
 */
public final class BatchNorms {
    private static final Map<Class<?>, Field> FIELDS = new ConcurrentHashMap<>();

    private BatchNorms() {}

    /** @return how many batch-norm layers were changed */
    public static int setMomentum(Block block, float momentum) {
        int n = 0;
        if (block instanceof BatchNorm || block instanceof BatchNormNoScale) {
            try {
                field(block.getClass()).setFloat(block, momentum);
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

    public static float momentum(Block batchNorm) {
        try {
            return field(batchNorm.getClass()).getFloat(batchNorm);
        } catch (IllegalAccessException e) {
            throw new IllegalStateException(e);
        }
    }

    private static Field field(Class<?> type) {
        return FIELDS.computeIfAbsent(type, t -> {
            for (Class<?> c = t; c != null; c = c.getSuperclass()) {
                try {
                    Field f = c.getDeclaredField("momentum");
                    f.setAccessible(true);
                    return f;
                } catch (NoSuchFieldException e) {
                    // look in the superclass
                }
            }
            throw new IllegalStateException(t + " has no momentum field");
        });
    }
}
