package studio

import (
	"strconv"
	"strings"
)

// apiVersion is the Azure OpenAI api-version the samples use.
const apiVersion = "2024-10-21"

// keyPlaceholder stands for the key in samples until the key is revealed.
const keyPlaceholder = "<your-api-key>"

// sample is one ready-to-paste code sample.
type sample struct {
	ID, Label, Lang, Code string
}

// sampleInput is what the samples are rendered with.
type sampleInput struct {
	Endpoint, Deployment, APIVersion, Key string
}

// samples renders the code samples: curl (both URL styles), Python and
// JavaScript with the openai package's AzureOpenAI, Go with openai-go.
func samples(in sampleInput) []sample {
	q := strconv.Quote
	azureURL := in.Endpoint + "/openai/deployments/" + in.Deployment + "/chat/completions?api-version=" + in.APIVersion
	body := `{"messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Hello!"}],"max_tokens":100}`
	v1Body := `{"model":` + q(in.Deployment) + `,"messages":[{"role":"user","content":"Hello!"}],"max_tokens":100}`
	lines := func(l ...string) string { return strings.Join(l, "\n") + "\n" }
	return []sample{
		{ID: "curl", Label: "curl", Lang: "shell", Code: lines(
			`curl "`+azureURL+`" \`,
			`  -H "Content-Type: application/json" \`,
			`  -H "api-key: `+in.Key+`" \`,
			`  -d '`+body+`'`,
		)},
		{ID: "curl-v1", Label: "curl (/openai/v1)", Lang: "shell", Code: lines(
			`curl "`+in.Endpoint+`/openai/v1/chat/completions" \`,
			`  -H "Content-Type: application/json" \`,
			`  -H "api-key: `+in.Key+`" \`,
			`  -d '`+v1Body+`'`,
		)},
		{ID: "python", Label: "Python", Lang: "python", Code: lines(
			`# pip install openai`,
			`from openai import AzureOpenAI`,
			``,
			`client = AzureOpenAI(`,
			`    azure_endpoint=`+q(in.Endpoint)+`,`,
			`    api_key=`+q(in.Key)+`,`,
			`    api_version=`+q(in.APIVersion)+`,`,
			`)`,
			`resp = client.chat.completions.create(`,
			`    model=`+q(in.Deployment)+`,  # the deployment name`,
			`    messages=[{"role": "user", "content": "Hello!"}],`,
			`)`,
			`print(resp.choices[0].message.content)`,
		)},
		{ID: "go", Label: "Go", Lang: "go", Code: lines(
			`// go get github.com/openai/openai-go`,
			`package main`,
			``,
			`import (`,
			`	"context"`,
			`	"fmt"`,
			``,
			`	"github.com/openai/openai-go"`,
			`	"github.com/openai/openai-go/azure"`,
			`)`,
			``,
			`func main() {`,
			`	client := openai.NewClient(`,
			`		azure.WithEndpoint(`+q(in.Endpoint)+`, `+q(in.APIVersion)+`),`,
			`		azure.WithAPIKey(`+q(in.Key)+`),`,
			`	)`,
			`	resp, err := client.Chat.Completions.New(context.TODO(), openai.ChatCompletionNewParams{`,
			`		Model: `+q(in.Deployment)+`, // the deployment name`,
			`		Messages: []openai.ChatCompletionMessageParamUnion{`,
			`			openai.UserMessage("Hello!"),`,
			`		},`,
			`	})`,
			`	if err != nil {`,
			`		panic(err)`,
			`	}`,
			`	fmt.Println(resp.Choices[0].Message.Content)`,
			`}`,
		)},
		{ID: "javascript", Label: "JavaScript", Lang: "javascript", Code: lines(
			`// npm install openai`,
			`import { AzureOpenAI } from "openai";`,
			``,
			`const client = new AzureOpenAI({`,
			`  endpoint: `+q(in.Endpoint)+`,`,
			`  apiKey: `+q(in.Key)+`,`,
			`  apiVersion: `+q(in.APIVersion)+`,`,
			`  deployment: `+q(in.Deployment)+`,`,
			`});`,
			`const resp = await client.chat.completions.create({`,
			`  model: `+q(in.Deployment)+`,`,
			`  messages: [{ role: "user", content: "Hello!" }],`,
			`});`,
			`console.log(resp.choices[0].message.content);`,
		)},
	}
}
