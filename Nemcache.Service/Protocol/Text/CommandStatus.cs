namespace Nemcache.Service.Protocol.Text;

/// <summary>How one text command ended, for <see cref="TextProtocolProcessor"/>'s loop.</summary>
internal enum CommandStatus
{
    /// <summary>Answered; the input goes on after its line (and data block).</summary>
    Done,
    /// <summary>Its data block has not fully arrived: the line stays in the input for the next call.</summary>
    NeedMoreData,
    /// <summary>The connection closes after the replies so far (quit, a cross-protocol request).</summary>
    Close,
    /// <summary>A multi-key retrieval stopped for its replies to drain: the line stays in the input.</summary>
    Paused,
}
