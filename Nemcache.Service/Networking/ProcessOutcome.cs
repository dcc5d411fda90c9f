namespace Nemcache.Service.Networking;

/// <summary>What a call to <see cref="IProtocolProcessor.Process"/> did, for the connection loop.</summary>
[Flags]
internal enum ProcessOutcome
{
    None = 0,
    /// <summary>At least one command changed the cache: persistence must commit before the replies are flushed.</summary>
    Mutated = 1,
    /// <summary>The connection must close after the replies so far (quit, an over-long line, a malformed packet).</summary>
    Close = 2,
    /// <summary>
    /// The replies so far reached <see cref="ReplyBacklog.PauseAtBytes"/>: the connection must flush them, and wait for
    /// the socket, before it calls again with the input left. That input may begin with a multi-key retrieval the
    /// processor has partly answered; the processor remembers where to go on.
    /// </summary>
    Paused = 4,
}
