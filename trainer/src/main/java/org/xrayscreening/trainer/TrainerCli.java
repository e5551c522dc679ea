package org.xrayscreening.trainer;

import org.xrayscreening.models.NativeRuntime;
import java.util.ArrayList;
import java.util.List;
import org.xrayscreening.trainer.cli.ChooseThresholdCommand;
import org.xrayscreening.trainer.cli.EvaluateCommand;
import org.xrayscreening.trainer.cli.FitEnsembleCommand;
import org.xrayscreening.trainer.cli.ProduceCommand;
import org.xrayscreening.trainer.cli.PublishCommand;
import org.xrayscreening.trainer.cli.SyntheticDatasetCommand;
import org.xrayscreening.trainer.cli.TrainCommand;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The trainer's command line: {@code train}, {@code evaluate}, {@code publish}, {@code choose-threshold}, {@code produce}, {@code import-pretrained},
 * {@code serve}, {@code refit}, {@code rollback} and {@code synthetic-dataset}. PyTorch thread counts
 * are fixed before the engine starts ({@code --threads} of the subcommand).
 */
@Command(name = "trainer", mixinStandardHelpOptions = true, version = "xray-screening trainer 0.1.0",
        description = "Trains, evaluates and publishes the COVID-19 chest X-ray classifiers.",
        subcommands = {TrainCommand.class, EvaluateCommand.class, PublishCommand.class, ChooseThresholdCommand.class,
                CommandLine.HelpCommand.class, org.xrayscreening.trainer.lifecycle.ServeCommand.class, org.xrayscreening.trainer.lifecycle.RefitCommand.class, org.xrayscreening.trainer.lifecycle.RollbackCommand.class,
                SyntheticDatasetCommand.class, FitEnsembleCommand.class, ProduceCommand.class})
public final class TrainerCli implements Runnable {
    private static volatile String commandLine = "trainer";
    /** Subcommands of packages developed alongside (added when present, so each can land on its own). */
    static final String[] OPTIONAL_SUBCOMMANDS = {
        "org.xrayscreening.trainer.imagenet.ImportPretrainedCommand",
        "org.xrayscreening.trainer.imagenet.FetchPretrainedCommand",
        "org.xrayscreening.trainer.imagenet.ImportNsfwjsCommand",
    };

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the CLI in this JVM and returns the exit code (tests call this). */
    public static int run(String... args) {
        commandLine = commandLine(args);
        return newCommandLine().execute(args);
    }

    /** The trainer's command line with every sub-command, not yet parsed (tests parse README examples with it). */
    public static CommandLine newCommandLine() {
        CommandLine cli = new CommandLine(new TrainerCli()).setCaseInsensitiveEnumValuesAllowed(true);
        for (String optional : OPTIONAL_SUBCOMMANDS) {
            try {
                cli.addSubcommand(Class.forName(optional).getDeclaredConstructor().newInstance());
            } catch (ClassNotFoundException e) {
                // not part of this build
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException("cannot create subcommand " + optional, e);
            }
        }
        return cli;
    }

    /** The command line as typed (arguments quoted where needed), recorded in run folders and model metadata. */
    public static String commandLine() {
        return commandLine;
    }

    static String commandLine(String[] args) {
        List<String> parts = new ArrayList<>();
        parts.add("trainer");
        for (String a : args) {
            parts.add(a.matches("[A-Za-z0-9_./:=@,+-]+") ? a : "'" + a.replace("'", "'\\''") + "'");
        }
        return String.join(" ", parts);
    }

    /** Sets PyTorch's intra- and inter-op thread counts; only effective before the engine has started. */
    public static void configureThreads(int threads) {
        if (threads > 0) {
            System.setProperty("ai.djl.pytorch.num_threads", Integer.toString(threads));
            System.setProperty("ai.djl.pytorch.num_interop_threads", "1");
        }
        if (System.getProperty("ai.djl.offline") == null) {
            System.setProperty("ai.djl.offline", "true");
        }
        System.setProperty("java.awt.headless", "true");
        // which allocator and CPU the run had: training speed differs ~3x between glibc and jemalloc
        NativeRuntime.logOnce(System.err::println);
    }

    @Override
    public void run() {
        new CommandLine(this).usage(System.out);
    }
}
