package org.xrayscreening.trainer.training;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.nn.Block;
import ai.djl.nn.norm.BatchNorm;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.xrayscreening.models.Architecture;
import org.xrayscreening.models.network.BatchNormNoScale;
import org.xrayscreening.models.network.Networks;

class BatchNormsTest {
    @Test
    void setsTheMomentumOfEveryBatchNormIncludingInceptionsScaleFreeOnes() {
        for (Architecture a : Architecture.values()) {
            Block block = Networks.classifier(a, 2);
            List<Block> norms = new ArrayList<>();
            collect(block, norms);
            assertThat(norms).as(a.id()).isNotEmpty();
            assertThat(BatchNorms.setMomentum(block, 0.9f)).as(a.id()).isEqualTo(norms.size());
            assertThat(norms).allSatisfy(n -> assertThat(BatchNorms.momentum(n)).isEqualTo(0.9f));
        }
        BatchNormNoScale bn = new BatchNormNoScale(1e-3f, 0.99f);
        BatchNorms.setMomentum(bn, 0.8f);
        assertThat(bn.momentum()).isEqualTo(0.8f);
    }

    private static void collect(Block b, List<Block> out) {
        if (b instanceof BatchNorm || b instanceof BatchNormNoScale) {
            out.add(b);
        }
        b.getChildren().values().forEach(c -> collect(c, out));
    }
}
