using Nemcache.Tools;

return DataTool.Run(args, Console.Out, Console.Error, Console.OpenStandardOutput);
