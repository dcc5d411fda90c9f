namespace Nemcache.Service.Protocol;

/// <summary>What a call to <see cref="IProtocolProcessor.Process"/> did, for the connection loop.</summary>
[Flags]
internal enum ProcessOutcome
{
    None = 0,
    /// <summary>At least one command changed the cache: persistence must commit before the replies are flushed.</summary>
    Mutated = 1,
    /// <summary>The connection must close after the replies so far (quit, an over-long line, a malformed packet).</summary>
    Close = 2,
}
