package org.xrayscreening.worklist;

import java.util.Set;

/** An authenticated worklist user: a staff member's login name (never a patient's) and roles. */
public record User(String name, Set<Role> roles) {
    public User {
        roles = Set.copyOf(roles);
    }

    public boolean may(Role role) {
        return roles.contains(role) || (role == Role.VIEWER && roles.contains(Role.RADIOLOGIST));
    }
}
