import gradio as gr


def shout(name):
    return f"HELLO {name.upper()}"


demo = gr.Interface(
    fn=shout, inputs="text", outputs="text", title="Hello from Gradio", api_name="shout"
)
demo.launch(server_port=7860)
