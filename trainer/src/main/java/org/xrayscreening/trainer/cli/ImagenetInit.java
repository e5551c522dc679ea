package org.xrayscreening.trainer.cli;

import ai.djl.Model;
import java.io.IOException;
import java.io.PrintStream;
import org.xrayscreening.trainer.dataset.PreparedImages;
import org.xrayscreening.trainer.training.TrainOptions;
import org.xrayscreening.trainer.training.TrainingRun;

/** {@code --init imagenet:<tflite>}: fills MobileNet's backbone from a TFLite file before the first epoch. */
final class ImagenetInit implements TrainingRun.ModelInitializer {
    static final ImagenetInit INSTANCE = new ImagenetInit();

    @Override
    public void initialize(Model model, TrainOptions options, PreparedImages train, PrintStream out) throws IOException {
        if (!options.imagenetInit()) {
            return;
        }
        // TODO(issue 3, item 3): call org.xrayscreening.trainer.imagenet.TfliteMobileNetImporter once it lands.
        throw new UnsupportedOperationException("ImageNet initialization needs "
                + "org.xrayscreening.trainer.imagenet.TfliteMobileNetImporter, which is not in this build yet");
    }
}
