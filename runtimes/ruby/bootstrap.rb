# frozen_string_literal: true

# cove's Ruby runtime client: speaks the Lambda Runtime API with the standard library
# only (net/http, json), following the conventions of Lambda's Ruby runtime
# (aws_lambda_ric):
#
# * _HANDLER is FILE.METHOD or FILE.Module::Class.METHOD; FILE.rb is required from
#   LAMBDA_TASK_ROOT (default /var/task) and METHOD is called as
#   `METHOD(event:, context:)` (a top-level method, or a class method of the
#   constant).
# * A handler error is posted as {"errorMessage", "errorType": "Function<Class>",
#   "stackTrace": [...]}; a failure while loading the handler (including a missing
#   file or a malformed _HANDLER) is posted to /runtime/init/error with errorType
#   "Init<Class>" and the process exits.
# * The response is the handler's return value as JSON.
#
# Run: /usr/bin/ruby3.1 /opt/ruby/bootstrap.rb   (AWS_LAMBDA_RUNTIME_API=host:port)

require 'json'
require 'net/http'

module CoveLambda
  API_VERSION = '2018-06-01'

  # The context object handlers receive (the attributes of Lambda's Ruby context).
  class Context
    attr_reader :aws_request_id, :invoked_function_arn, :log_group_name, :log_stream_name,
                :function_name, :memory_limit_in_mb, :function_version, :identity,
                :client_context, :deadline_ms, :trace_id

    def initialize(headers)
      @aws_request_id = headers['lambda-runtime-aws-request-id']
      @invoked_function_arn = headers['lambda-runtime-invoked-function-arn']
      @deadline_ms = Integer(headers['lambda-runtime-deadline-ms'])
      @trace_id = headers['lambda-runtime-trace-id']
      @identity = parse_json(headers['lambda-runtime-cognito-identity'])
      @client_context = parse_json(headers['lambda-runtime-client-context'])
      @log_group_name = ENV['AWS_LAMBDA_LOG_GROUP_NAME']
      @log_stream_name = ENV['AWS_LAMBDA_LOG_STREAM_NAME']
      @function_name = ENV['AWS_LAMBDA_FUNCTION_NAME']
      @memory_limit_in_mb = ENV['AWS_LAMBDA_FUNCTION_MEMORY_SIZE']
      @function_version = ENV['AWS_LAMBDA_FUNCTION_VERSION']
    end

    # Milliseconds left until the invocation's deadline.
    def get_remaining_time_in_millis # rubocop:disable Naming/AccessorMethodName
      [@deadline_ms - (Time.now.to_f * 1000).to_i, 0].max
    end

    private

    def parse_json(text)
      text.nil? || text.empty? ? nil : JSON.parse(text)
    rescue JSON::ParserError
      nil
    end
  end

  # An error document for the Runtime API, shaped like aws_lambda_ric's.
  class ErrorDocument
    attr_reader :type

    def initialize(prefix, error)
      @type = "#{prefix}<#{error.class}>"
      @message = error.message
      @stack = (error.backtrace || []).reject { |line| line.start_with?(__FILE__) }
    end

    def to_h
      { errorMessage: @message, errorType: @type, stackTrace: @stack }
    end
  end

  # FILE.METHOD or FILE.Module::Class.METHOD, resolved against the task root.
  class Handler
    def initialize(spec, task_root)
      parts = spec.to_s.split('.')
      unless [2, 3].include?(parts.size) && parts.none?(&:empty?)
        raise ArgumentError, "Invalid handler #{spec.inspect}: must be of form FILENAME.METHOD or " \
                             'FILENAME.CLASS.METHOD where FILENAME corresponds with an existing Ruby ' \
                             'source file FILENAME.rb, CLASS is an optional module/class namespace and ' \
                             'METHOD is a callable method'
      end
      @file = File.join(task_root, parts.first)
      @constant = parts.size == 3 ? parts[1] : nil
      @method = parts.last
    end

    def load
      require @file
      @receiver = @constant ? Object.const_get(@constant) : TOPLEVEL_BINDING.receiver
    end

    def call(event, context)
      @receiver.__send__(@method, event: event, context: context)
    end
  end

  # The Runtime API over one keep-alive connection (no proxy: the endpoint is local).
  class Api
    def initialize(address)
      host, port = address.split(':', 2)
      @host = host
      @port = Integer(port)
    end

    def next_invocation
      response = request(Net::HTTP::Get.new(path('invocation/next')))
      raise "next: status #{response.code}: #{response.body}" unless response.code == '200'

      response
    end

    def post(suffix, body, error_type = nil)
      req = Net::HTTP::Post.new(path(suffix))
      req['Content-Type'] = 'application/json'
      req['Lambda-Runtime-Function-Error-Type'] = error_type if error_type
      req.body = body
      response = request(req)
      raise "#{suffix}: status #{response.code}: #{response.body}" unless response.code == '202'
    end

    private

    def path(suffix)
      "/#{API_VERSION}/runtime/#{suffix}"
    end

    def request(req)
      connection.request(req)
    rescue IOError, SystemCallError
      @http = nil # the connection was closed: reconnect once
      connection.request(req)
    end

    def connection
      @http ||= begin
        http = Net::HTTP.new(@host, @port, nil)
        http.read_timeout = nil # `next` long-polls
        http.keep_alive_timeout = 3600
        http.start
      end
    end
  end

  def self.log_error(document)
    warn(JSON.generate(document.to_h))
  end

  def self.run
    $stdout.sync = true
    $stderr.sync = true
    api = Api.new(ENV.fetch('AWS_LAMBDA_RUNTIME_API'))
    handler = nil
    begin
      handler = Handler.new(ENV['_HANDLER'], ENV['LAMBDA_TASK_ROOT'] || Dir.pwd)
      handler.load
    rescue Exception => e # rubocop:disable Lint/RescueException -- LoadError, SyntaxError, …
      document = ErrorDocument.new('Init', e)
      log_error(document)
      api.post('init/error', JSON.generate(document.to_h), document.type)
      exit(1)
    end

    loop do
      invocation = api.next_invocation
      context = Context.new(invocation.each_header.to_h)
      ENV['_X_AMZN_TRACE_ID'] = context.trace_id
      begin
        event = JSON.parse(invocation.body)
        result = handler.call(event, context)
        api.post("invocation/#{context.aws_request_id}/response", JSON.generate(result))
      rescue StandardError, ScriptError, NoMemoryError, SystemStackError => e
        document = ErrorDocument.new('Function', e)
        log_error(document)
        api.post("invocation/#{context.aws_request_id}/error", JSON.generate(document.to_h), document.type)
      end
    end
  end
end

CoveLambda.run if $PROGRAM_NAME == __FILE__
