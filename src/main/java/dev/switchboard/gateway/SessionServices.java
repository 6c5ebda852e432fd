package dev.switchboard.gateway;

import dev.switchboard.cluster.ClusterView;
import dev.switchboard.cluster.NodeContext;
import dev.switchboard.router.ChannelRules;
import dev.switchboard.router.Fanout;
import dev.switchboard.router.Glob;

/** What a session needs from its gateway instance and node; one per gateway instance, shared by its sessions. */
record SessionServices(NodeContext node, SessionHub hub, ChannelRules rules, ClusterView view, Glob rpcAllowed,
    Fanout fanout) {}
