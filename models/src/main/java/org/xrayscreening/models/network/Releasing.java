package org.xrayscreening.models.network;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.function.Function;

/**
 * Sequential and parallel blocks that close every intermediate tensor as soon as the next block has consumed it.
 *
 * <p>DJL attaches each op's output to the caller's NDManager and frees nothing until that manager closes, so a
 * forward pass holds every activation of the whole network at once: peak memory grows with depth, and the
 * allocator has to hand out hundreds of distinct large blocks per pass. Closing a DJL array only drops its
 * reference to the torch tensor; autograd keeps its own references to what backward needs, so this is as safe
 * in training as in inference. A block's own input is never closed (its caller owns it), nor is an array the
 * next block passed through unchanged.
 */
final class Releasing {
    private Releasing() {}

    static ai.djl.nn.SequentialBlock sequential() {
        return new SequentialBlock();
    }

    static ai.djl.nn.ParallelBlock parallel(Function<List<NDList>, NDList> join, List<Block> branches) {
        return new ParallelBlock(join, branches);
    }

    /** SequentialBlock's forward, releasing each intermediate once its successor has run. */
    static NDList forwardInOrder(Collection<Block> children, ParameterStore store, NDList inputs, boolean training,
                                 PairList<String, Object> params) {
        NDList current = inputs;
        for (Block child : children) {
            NDList next = child.forward(store, current, training, params);
            if (current != inputs) {
                release(current, next, inputs);
            }
            current = next;
        }
        return current;
    }

    /** Closes the arrays of {@code consumed} that are neither in {@code kept} nor in {@code owned}. */
    static void release(NDList consumed, NDList kept, NDList owned) {
        for (NDArray array : consumed) {
            if (!containsSame(kept, array) && !containsSame(owned, array)) {
                array.close();
            }
        }
    }

    private static boolean containsSame(NDList list, NDArray array) {
        for (NDArray a : list) {
            if (a == array) {
                return true;
            }
        }
        return false;
    }

    // Named like DJL's classes: DJL derives parameter paths from the simple class name ("01SequentialBlock_..."),
    // and the Keras importers' layer maps and saved models depend on those paths.
    private static final class SequentialBlock extends ai.djl.nn.SequentialBlock
            implements BatchNormFolding.ChildReplacing {
        @Override
        public void replaceChildren(ai.djl.nn.BlockList replacement) {
            children.clear();
            children.addAll(replacement);
        }

        @Override
        protected NDList forwardInternal(ParameterStore store, NDList inputs, boolean training,
                                         PairList<String, Object> params) {
            return forwardInOrder(getChildren().values(), store, inputs, training, params);
        }
    }

    private static final class ParallelBlock extends ai.djl.nn.ParallelBlock {
        private final Function<List<NDList>, NDList> join;

        ParallelBlock(Function<List<NDList>, NDList> join, List<Block> branches) {
            super(join, branches);
            this.join = join;
        }

        @Override
        protected NDList forwardInternal(ParameterStore store, NDList inputs, boolean training,
                                         PairList<String, Object> params) {
            List<NDList> outputs = new ArrayList<>();
            for (Block branch : getChildren().values()) {
                outputs.add(branch.forward(store, inputs, training, params));
            }
            NDList joined = join.apply(outputs);
            for (NDList output : outputs) {
                release(output, joined, inputs);
            }
            return joined;
        }
    }
}
