package org.xrayscreening.stream.scoring;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class InjectedFaultTest {

    @TempDir
    Path dir;

    @AfterEach
    void switchOff() {
        System.clearProperty(InjectedFault.PROPERTY);
    }

    @Test
    void offByDefaultEvenForAMarkedStudy() {
        assertThatCode(() -> InjectedFault.maybeThrow(InjectedFault.MARKER + "1", "mobilenet")).doesNotThrowAnyException();
    }

    @Test
    void whenOnAMarkedStudyThrowsOnceAcrossOperatorsAndReplays() {
        System.setProperty(InjectedFault.PROPERTY, dir.toString());
        assertThatThrownBy(() -> InjectedFault.maybeThrow(InjectedFault.MARKER + "1", "mobilenet"))
                .isInstanceOf(InjectedFault.class).hasMessageContaining("mobilenet");
        // the replay after the restart, and the other model operators, score it normally
        assertThatCode(() -> InjectedFault.maybeThrow(InjectedFault.MARKER + "1", "mobilenet")).doesNotThrowAnyException();
        assertThatCode(() -> InjectedFault.maybeThrow(InjectedFault.MARKER + "1", "resnet50")).doesNotThrowAnyException();
        // a second marked study gets its own single fault
        assertThatThrownBy(() -> InjectedFault.maybeThrow(InjectedFault.MARKER + "2", "resnet50"))
                .isInstanceOf(InjectedFault.class);
    }

    @Test
    void whenOnUnmarkedStudiesAreNeverTouched() {
        System.setProperty(InjectedFault.PROPERTY, dir.toString());
        assertThatCode(() -> InjectedFault.maybeThrow("demo-000001", "mobilenet")).doesNotThrowAnyException();
        assertThatCode(() -> InjectedFault.maybeThrow(null, "mobilenet")).doesNotThrowAnyException();
    }
}
