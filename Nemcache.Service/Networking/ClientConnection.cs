using System.IO.Pipelines;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Nemcache.Storage.Persistence;

namespace Nemcache.Service.Networking;

/// <summary>
/// One client connection: reads whatever has arrived, runs every complete command in it, makes the batch's changes as
/// durable as the sync mode promises, and only then sends the batch's replies. That order is what lets a reply stand
/// for persistence (see docs/architecture.md). A batch whose replies back up runs in parts (the processor pauses, see
/// <see cref="ReplyBacklog"/>): each part is committed and flushed, and the next part runs, and the next read is made,
/// only once the socket has taken the replies so far.
/// </summary>
internal sealed class ClientConnection(Socket socket, IProtocolProcessorFactory processors, ICachePersistence? persistence,
    ServerStatistics statistics, ILogger logger)
{
    private static readonly StreamPipeReaderOptions ReaderOptions = new(bufferSize: 16 * 1024, minimumReadSize: 4 * 1024);
    private static readonly StreamPipeWriterOptions WriterOptions = new(minimumBufferSize: 16 * 1024);

    /// <param name="stopping">Cancelled at shutdown: the connection finishes the batch it is running and closes.</param>
    /// <param name="aborting">Cancelled when shutdown stops waiting: the socket is reset at once, so that a flush to a
    /// client that does not read its replies ends.</param>
    public async Task RunAsync(CancellationToken stopping, CancellationToken aborting)
    {
        var stream = new NetworkStream(socket, ownsSocket: true);
        var reader = PipeReader.Create(stream, ReaderOptions);
        var writer = PipeWriter.Create(stream, WriterOptions);
        IProtocolProcessor? processor = null;
        var sendReplies = true;
        await using var stopRegistration = stopping.Register(static r => ((PipeReader)r!).CancelPendingRead(), reader);
        await using var abortRegistration = aborting.Register(static s => ((Socket)s!).Close(0), socket);
        try
        {
            while (true)
            {
                var read = await reader.ReadAsync();
                if (read.IsCanceled)
                {
                    break;
                }
                var buffer = read.Buffer;
                processor ??= processors.ForFirstBytes(buffer);
                var received = buffer.Length;
                ProcessOutcome outcome;
                FlushResult flushed;
                do
                {
                    // A paused processor goes on with the rest of the batch once the socket has taken the replies so
                    // far; until then nothing more is read.
                    statistics.Connections.MarkRunning(socket, running: true);
                    outcome = processor.Process(ref buffer, writer);
                    statistics.Connections.MarkRunning(socket, running: false);
                    if ((outcome & ProcessOutcome.Mutated) != 0 && persistence is not null)
                    {
                        await persistence.CommitAsync();
                    }
                    statistics.AddBytesWritten(writer.UnflushedBytes);
                    flushed = await writer.FlushAsync();
                }
                while ((outcome & (ProcessOutcome.Paused | ProcessOutcome.Close)) == ProcessOutcome.Paused && !flushed.IsCompleted);
                statistics.AddBytesRead(received - buffer.Length);
                reader.AdvanceTo(buffer.Start, buffer.End);

                if ((outcome & ProcessOutcome.Close) != 0 || flushed.IsCompleted || read.IsCompleted)
                {
                    break;
                }
            }
        }
        catch (PersistenceException ex)
        {
            // The batch's changes could not be made durable: its replies must not claim they were. The client sees
            // the connection close instead of a reply.
            sendReplies = false;
            logger.LogError("Closing a connection whose writes could not be persisted: {Message}", ex.Message);
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // The client went away mid-request; nothing to answer.
        }
        finally
        {
            if (!sendReplies)
            {
                socket.Close(0);
            }
            await reader.CompleteAsync();
            await CompleteQuietly(writer);
            await stream.DisposeAsync();
            statistics.CloseConnection();
        }
    }

    private static async ValueTask CompleteQuietly(PipeWriter writer)
    {
        try
        {
            await writer.CompleteAsync();
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
            // Completing flushes what is left; a peer that already left cannot take it.
        }
    }
}
